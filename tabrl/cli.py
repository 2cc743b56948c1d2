"""The `tabrl` command line.

Each subcommand lives in one `_cmd_*` function; errors a person can fix are
printed as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys


class UserError(Exception):
    """An error caused by the input; shown as one line, exit status 2."""


def _print_json(payload) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


# --- tabrl models -------------------------------------------------------------


def _cmd_models(args: argparse.Namespace) -> None:
    from tabrl.catalog import format_table, load_catalog

    catalog = load_catalog(refresh=args.refresh)
    if args.json:
        _print_json([entry.model_dump(mode="json") for entry in catalog])
    else:
        print(format_table(catalog))


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list every MuJoCo Playground model TabRL can train")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--refresh", action="store_true", help="rebuild the cached catalog")
    p.set_defaults(func=_cmd_models)


# --- tabrl up -----------------------------------------------------------------


def _cmd_up(args: argparse.Namespace) -> None:
    """What `make up` runs: everything TabRL has so far, on this machine."""
    from tabrl.catalog import format_table, load_catalog

    print("TabRL: loading the model catalog (the first run renders thumbnails, about 1-2 min)...")
    print(format_table(load_catalog()))


def _add_up(sub) -> None:
    p = sub.add_parser("up", help="start TabRL on this machine (what `make up` runs)")
    p.set_defaults(func=_cmd_up)


# --- tabrl propose (reward design) ---------------------------------------------
# (added with the reward-design issue)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tabrl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_models(sub)
    _add_up(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tabrl.playground import AssetsMissingError, UnknownModelError

    try:
        args.func(args)
    except (UserError, UnknownModelError, AssetsMissingError) as error:
        print(f"tabrl {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
