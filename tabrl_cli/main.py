"""The `tabrl` command line.

Each subcommand lives in one `_cmd_*` function; errors a person can fix are
printed as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path


class UserError(Exception):
    """An error caused by the input; shown as one line, exit status 2."""


def _print_json(payload) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _print_record(args: argparse.Namespace, record: dict, line: str) -> None:
    """The record as JSON with `--json`, else one line for a person."""
    if args.json:
        _print_json(record)
    else:
        print(line)


# --- tabrl models -------------------------------------------------------------


def _cmd_models(args: argparse.Namespace) -> None:
    from tabrl.catalog import format_table, load_catalog

    if args.rebuild_bundle:
        from tabrl.catalog_bundle import write_bundle

        print(f"tabrl: wrote {write_bundle(load_catalog(refresh=True))}", file=sys.stderr)
    catalog = load_catalog(refresh=args.refresh)
    if args.json:
        _print_json([entry.model_dump(mode="json") for entry in catalog])
    else:
        print(format_table(catalog))


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list every MuJoCo Playground model TabRL can train")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--refresh", action="store_true", help="rebuild the cached catalog")
    p.add_argument("--rebuild-bundle", action="store_true",
                   help="load every model and write the catalog shipped in the package (tabrl/catalog_bundle/)")
    p.set_defaults(func=_cmd_models)


# --- tabrl up -----------------------------------------------------------------


DEMO = ["--model", "CartpoleBalance", "--prompt", "Swing the pole wildly but never let it fall", "--steps", "20000"]


def _cmd_up(args: argparse.Namespace) -> None:
    """What `make up` runs until the Serve API and UI land: the catalog, then the
    headless pipeline on a quick model (three trained approaches, three videos)."""
    from tabrl.catalog import format_table, load_catalog

    print("TabRL: loading the model catalog...")
    print(format_table(load_catalog()))
    print("\nTabRL demo: tabrl train " + " ".join(f'"{a}"' if " " in a else a for a in DEMO))
    _cmd_train(build_parser().parse_args(["train", *DEMO]))


def _add_up(sub) -> None:
    p = sub.add_parser("up", help="start TabRL on this machine (what `make up` runs)")
    p.set_defaults(func=_cmd_up)


# --- tabrl propose (reward design) ---------------------------------------------


def _cmd_propose(args: argparse.Namespace) -> None:
    from tabrl.rewards import propose
    from tabrl.rewards.families import check_model
    from tabrl.rewards.prompt import clean_prompt
    from tabrl.rewards.samples import samples_cached
    from tabrl.rewards.variants import check_variant

    clean_prompt(args.prompt)  # a bad prompt fails before any slow work
    check_variant(args.variant)
    check_model(args.model)
    if not samples_cached(args.model):
        print(f"note: sampling {args.model} states for validation (first run only)...", file=sys.stderr)
    proposal = propose(args.model, args.prompt, args.variant)
    if args.json:
        _print_json(proposal.model_dump(mode="json"))
    else:
        from tabrl.rewards.summary import format_proposal

        print(format_proposal(proposal))


def _add_propose(sub) -> None:
    p = sub.add_parser("propose", help="propose three reward approaches for a prompt")
    p.add_argument("--model", required=True, help="a Playground model id (`tabrl models`)")
    p.add_argument("--prompt", required=True, help='what the robot should do, e.g. "Keep shaking your hips!"')
    p.add_argument("--variant", type=int, default=0, metavar="N",
                   help="0: the usual three; 1..999: three other approaches (what Regenerate asks for)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_propose)


# --- tabrl train / render ----------------------------------------------------------


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, not {text!r}") from None
    if not (16 <= width <= 3840 and 16 <= height <= 2160):
        raise argparse.ArgumentTypeError("size must be between 16x16 and 3840x2160")
    return width, height


def _fetch_meshes(model_id: str):
    """Download a model's robot meshes with a progress bar, then its catalog entry again."""
    from tqdm import tqdm

    from tabrl.catalog import fetch_meshes

    bars: dict[str, tqdm] = {}

    def progress(robot: str, done: int, total: int) -> None:
        bar = bars.setdefault(robot, tqdm(total=total, desc=f"{robot} meshes", unit="B", unit_scale=True,
                                          file=sys.stderr))
        bar.update(done - bar.n)

    try:
        return fetch_meshes(model_id, progress)
    finally:
        for bar in bars.values():
            bar.close()


def _cmd_train(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from tabrl.catalog import base_policy_dir, get_model
    from tabrl.settings import data_dir
    from tabrl.training import check_num_steps

    entry = get_model(args.model)
    if args.preset:
        from tabrl.presets import preset_steps

        use_base = args.base_policy is not False and base_policy_dir(args.model) is not None
        args.steps = preset_steps(args.preset, entry.family, fine_tune=use_base)
    if args.steps is None:
        raise UserError("give --steps N or --preset quick|standard|quality")
    check_num_steps(args.steps)
    if not entry.available and entry.meshes_missing:
        entry = _fetch_meshes(args.model)
    if not entry.available:
        raise UserError(f"{args.model} cannot run here: {entry.unavailable_reason}")
    base = base_policy_dir(args.model) if args.base_policy is not False else None
    if args.base_policy and base is None:
        raise UserError(f"{args.model} has no base policy; run with --no-base-policy")
    from tabrl.job_layout import JobLayout, new_job_id
    from tabrl.job_results import VideoOptions
    from tabrl.policy_report import format_behaviour
    from tabrl.stages import stages_text
    from tune_jobs.pipeline import JobEvents, JobRequest, run_job

    job_id = new_job_id()
    out = Path(args.out) if args.out else data_dir() / "jobs" / job_id
    bars: list = []
    started = time.monotonic()

    class Terminal(JobEvents):
        """Progress bars on stderr, one per approach (one line when stderr is not a terminal)."""

        def stage(self, status: str, words: str) -> None:
            tqdm.write(f"[{time.monotonic() - started:5.0f} s] {words}", file=sys.stderr)

        def proposed(self, proposal) -> None:
            for warning in proposal.warnings:
                print(f"note: {warning}", file=sys.stderr)
            bars.extend(
                tqdm(total=args.steps, desc=a.name[:28].ljust(28), position=i, unit="step",
                     file=sys.stderr, dynamic_ncols=True, disable=None)
                for i, a in enumerate(proposal.approaches))
            if all(bar.disable for bar in bars):
                print(f"training {len(bars)} approaches of {args.model} for {args.steps:,} steps each...",
                      file=sys.stderr)

        def progress(self, index: int, progress) -> None:
            bar = bars[index]
            bar.update(max(0, min(progress.env_steps, bar.total) - bar.n))
            if progress.episode_reward is not None:
                bar.set_postfix(reward=f"{progress.episode_reward:.3g}")

    request = JobRequest(job_id=job_id, model=args.model, prompt=args.prompt, num_steps=args.steps, out_dir=out,
                         base_checkpoint=base, video=VideoOptions(seconds=args.seconds, width=args.size[0],
                                                                  height=args.size[1], seed=args.seed))
    # Ray Tune prints its own tables; stdout is kept for the result (--json).
    with contextlib.redirect_stdout(sys.stderr):
        result = run_job(request, events=Terminal())
    for bar in bars:
        bar.close()
    if args.json:
        _print_json(result.model_dump(mode="json"))
        return
    for outcome in result.approaches:
        where = outcome.video if outcome.status == "succeeded" else f"FAILED: {outcome.error}"
        print(f"{outcome.name}: {where}")
        if outcome.behaviour is not None:
            print("\n".join("  " + line for line in format_behaviour("it", outcome.behaviour).splitlines()))
    if result.distinctness is not None:
        d = result.distinctness
        print(f"distinct: {'yes' if d.distinct else 'no'} (closest pair {d.closest[0]}-{d.closest[1]}: "
              f"distance {d.minimum:.2f}, 1 = visibly different)")
    print(f"composite: {result.composite}")
    if result.stages:
        print(f"time: {stages_text(result.stages)}")
    print(f"job: {JobLayout(out).record}")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="propose three approaches, train them in parallel, render videos")
    p.add_argument("--model", required=True, help="a Playground model id (`tabrl models`)")
    p.add_argument("--prompt", required=True, help='what the robot should do, e.g. "Keep shaking your hips!"')
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=int, help="environment steps per approach")
    budget.add_argument("--preset", choices=["quick", "standard", "quality"], type=str.lower,
                        help="the UI's presets: steps for the model and whether it fine-tunes a base policy")
    base = p.add_mutually_exclusive_group()
    base.add_argument("--base-policy", dest="base_policy", action="store_true", default=None,
                      help="fine-tune from the model's base policy (the default when it has one)")
    base.add_argument("--no-base-policy", dest="base_policy", action="store_false", help="train from scratch")
    p.add_argument("--out", help="output folder (default: DATA_DIR/jobs/JOB_ID)")
    p.add_argument("--seconds", type=float, default=10.0, help="video length in simulated seconds")
    p.add_argument("--size", type=_parse_size, default=(640, 480), help="video size, WIDTHxHEIGHT")
    p.add_argument("--seed", type=int, default=0, help="reset seed: the videos' shared initial state")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.set_defaults(func=_cmd_train)


def _cmd_render(args: argparse.Namespace) -> None:
    from tabrl.rendering import render_policy_video
    from tabrl.training import read_checkpoint_config

    try:
        read_checkpoint_config(Path(args.checkpoint))
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    if not 0 < args.seconds <= 120:
        raise UserError("--seconds must be between 0 and 120")
    render_policy_video(Path(args.checkpoint), Path(args.out), args.seconds, args.fps, *args.size, seed=args.seed)
    print(args.out)


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="render a trained checkpoint to an H.264 MP4")
    p.add_argument("--checkpoint", required=True, help="a checkpoint folder written by `tabrl train`")
    p.add_argument("--out", required=True, help="the MP4 to write")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--size", type=_parse_size, default=(640, 480), help="WIDTHxHEIGHT")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_render)


def _cmd_measure(args: argparse.Namespace) -> None:
    from tabrl.policy_report import format_behaviour, measure_checkpoint
    from tabrl.training import read_checkpoint_config

    try:
        meta = read_checkpoint_config(Path(args.checkpoint))
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    if not 0 < args.seconds <= 120:
        raise UserError("--seconds must be between 0 and 120")
    behaviour = measure_checkpoint(Path(args.checkpoint), args.seconds, args.fps, args.seed)
    if args.json:
        _print_json(behaviour.model_dump(mode="json"))
        return
    folder = Path(args.checkpoint).resolve()
    name = folder.parent.name if folder.name == "checkpoint" else folder.name
    print(f"{meta['model_id']}, {args.seconds:g} s from seed {args.seed}")
    print(format_behaviour(name, behaviour))


def _add_measure(sub) -> None:
    p = sub.add_parser("measure", help="what a trained checkpoint does: its behaviour report, intents and reference")
    p.add_argument("--checkpoint", required=True, help="a checkpoint folder written by `tabrl train`")
    p.add_argument("--seconds", type=float, default=10.0, help="rollout length (the video's)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--seed", type=int, default=0, help="reset seed (the video's)")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=_cmd_measure)


def _cmd_serve(args: argparse.Namespace) -> None:
    from serve_app.launch import serve_forever

    serve_forever(args.host, args.port)


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="start the HTTP API (Ray Serve) on an embedded local Ray, until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_cmd_serve)


def _cmd_warm(args: argparse.Namespace) -> None:
    from tabrl.catalog import get_model
    from tabrl.training import check_num_steps
    from tabrl.warm import warm_rendering, warm_steps, warm_training

    entry = get_model(args.model)
    if not entry.available:
        raise UserError(f"{args.model} cannot run here: {entry.unavailable_reason}")
    steps = check_num_steps(args.steps) if args.steps else warm_steps(args.model, args.preset)
    print(f"compiling {args.model}'s training program for {steps:,}-step jobs...", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        report = warm_training(args.model, steps)
        print(f"compiling its {args.seconds:g}-s video rollout...", file=sys.stderr)
        report.rendering_seconds = warm_rendering(args.model, steps, seconds=args.seconds)
    _print_record(args, report.model_dump(mode="json"),
                  f"{args.model} is ready for {steps:,}-step jobs: training {report.training_seconds:.0f} s "
                  f"({report.executables_compiled} programs compiled, {report.executables_loaded} already "
                  f"there), rollout {report.rendering_seconds:.0f} s")


def _add_warm(sub) -> None:
    p = sub.add_parser("warm", help="compile a model's programs ahead of its first job (what `make up` does "
                                    "for the Go1)")
    p.add_argument("--model", required=True, help="a Playground model id, e.g. Go1JoystickFlatTerrain")
    p.add_argument("--preset", default="Quick", help="the budget whose programs to compile (default: Quick, "
                                                     "what the UI preselects)")
    p.add_argument("--steps", type=int, help="or an exact step budget")
    p.add_argument("--seconds", type=float, default=10.0, help="the video length whose rollout to compile")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_warm)


# --- tabrl pretrain (base policies) -----------------------------------------------


def _cmd_pretrain(args: argparse.Namespace) -> None:
    from tabrl.catalog import get_model
    from tabrl.pretrain import pretrain, recipe_steps
    from tabrl.training import check_num_steps

    entry = get_model(args.model)
    if not entry.available:
        raise UserError(f"{args.model} cannot run here: {entry.unavailable_reason}")
    steps = check_num_steps(args.steps if args.steps is not None else recipe_steps(args.model))
    out = _base_out(args)
    print(f"pretraining {args.model} on its own reward for {steps:,} steps into {out}...", file=sys.stderr)

    def on_progress(progress) -> None:
        reward = "-" if progress.episode_reward is None else f"{progress.episode_reward:.4g}"
        print(f"  {progress.env_steps:>12,} steps  reward {reward}  {progress.elapsed_seconds:.0f} s", file=sys.stderr)

    record = pretrain(args.model, out, steps, seed=args.seed, progress=on_progress, recipe=args.recipe)
    _print_record(args, record, f"{out}: {record['env_steps']:,} steps in {record['seconds']:.0f} s on "
                                f"{record['device']}, final reward {record['final_reward']}")


def _add_pretrain(sub) -> None:
    p = _base_policy_parser(sub, "pretrain", _cmd_pretrain,
                            help="train a model's base policy on its own reward (a GPU job at full size)",
                            model_help="a Playground model id, e.g. Go1JoystickFlatTerrain",
                            json_help="print the training record as JSON")
    p.add_argument("--steps", type=int, help="environment steps (default: Playground's recipe, 200M for Go1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe", action=argparse.BooleanOptionalAction, default=None,
                   help="Playground's PPO config as it is (default on a GPU) or TabRL's budget-scaled one "
                        "(--no-recipe, default on a CPU)")


# --- tabrl import-policy (base policies from Playground's ONNX files) ----------------------


def _base_policy_parser(sub, name: str, func, *, help: str, model_help: str, json_help: str):
    """A subcommand that writes a model's base policy: --model, --out, --force, --json."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--model", required=True, help=model_help)
    p.add_argument("--out", help="checkpoint folder (default: tabrl/base_policies/MODEL, what the catalog uses)")
    p.add_argument("--force", action="store_true", help="replace a checkpoint already in --out")
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=func)
    return p


def _base_out(args: argparse.Namespace) -> Path:
    """Where a base policy goes (`--out`, else the catalog's folder); refuses to overwrite without --force."""
    from tabrl.catalog import BASE_POLICY_ROOT

    out = Path(args.out) if args.out else BASE_POLICY_ROOT / args.model
    if (out / "params.msgpack").exists() and not args.force:
        raise UserError(f"{out} already holds a checkpoint; pass --force to replace it")
    return out


def _cmd_import_policy(args: argparse.Namespace) -> None:
    from tabrl.base_policy import PolicyFileError, import_policy

    onnx_path = Path(args.onnx)
    if not onnx_path.is_file():
        raise UserError(f"{onnx_path} does not exist")
    out = _base_out(args)
    print(f"converting {onnx_path.name} into a base policy for {args.model} in {out}...", file=sys.stderr)
    try:
        record = import_policy(onnx_path, args.model, out)
    except PolicyFileError as error:
        raise UserError(str(error)) from None
    _print_record(args, record, f"{out}: from {record['source']} ({record['license']}); check: max abs "
                                f"difference {record['check']['max_abs_difference']:.1e} against the ONNX graph")


def _add_import_policy(sub) -> None:
    p = _base_policy_parser(sub, "import-policy", _cmd_import_policy,
                            help="make a MuJoCo Playground ONNX policy a model's base policy",
                            model_help="the Playground model it was trained on",
                            json_help="print the provenance record as JSON")
    p.add_argument("--onnx", required=True, help="a policy Playground publishes, e.g. go1_policy.onnx")


# --- tabrl bench ----------------------------------------------------------------------


def _cmd_bench(args: argparse.Namespace) -> None:
    if args.behaviour:
        from serve_app.demos import write_demo
        from tune_jobs.behaviour_bench import EXAMPLE_PROMPTS, run_behaviour_bench

        out = Path(args.out if args.out != "BENCHMARKS.md" else "BEHAVIOUR.md")
        prompts = tuple(args.prompt) if args.prompt else None
        record = run_behaviour_bench(out, model=args.model if args.model != "CartpoleBalance" else
                                     "Go1JoystickFlatTerrain", steps=args.behaviour_steps,
                                     **({"prompts": prompts} if prompts else {}), base_only=args.base_only,
                                     demos=Path(args.demos) if args.demos else None, write_demo=write_demo,
                                     log=lambda line: print(line, file=sys.stderr, flush=True))
        print(out)
        for job in record["jobs"]:
            mark = "example" if job["prompt"] in EXAMPLE_PROMPTS else "own"
            print(f"{'met' if job['goal_met'] else 'NOT met':8} {mark:8} {job['prompt']}")
        return
    if args.job_wall:
        from tabrl.bench_jobwall import run_job_wall

        record = run_job_wall(Path(args.out), model=args.model if args.model != "CartpoleBalance" else
                              "Go1JoystickFlatTerrain", steps=args.steps if args.steps != 50_000 else 60_000,
                              videos=Path(args.demos) if args.demos else None,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
        print(args.out)
        for name, job in record["jobs"].items():
            print(f"{name:12} {job['job_seconds']:6.0f} s  " + " · ".join(
                f"{stage} {seconds:.0f} s" for stage, seconds in job["stages"].items()))
        return
    from tabrl.bench import run_bench

    result = run_bench(Path(args.out), model=args.model, steps=args.steps, scaling=not args.no_scaling,
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    print(args.out)
    for name, value in result["ratios"].items():
        print(f"{name}: {'n/a' if value is None else f'{value:.3f}'}")


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure TabRL against Brax PPO called directly; writes BENCHMARKS.md")
    p.add_argument("--out", default="BENCHMARKS.md", help="the Markdown report (raw numbers go next to it as .json)")
    p.add_argument("--model", default="CartpoleBalance")
    p.add_argument("--steps", type=int, default=50_000, help="env steps per approach")
    p.add_argument("--no-scaling", action="store_true", help="skip the num_steps x num_envs table")
    p.add_argument("--behaviour", action="store_true",
                   help="instead: train the example prompts on the Go1 at the Standard preset and write what the "
                        "robot did to BEHAVIOUR.md (upright, distinct, intents met)")
    p.add_argument("--prompt", action="append", help="with --behaviour: these prompts instead (repeatable)")
    p.add_argument("--behaviour-steps", type=int, help="with --behaviour: steps per approach (default: Standard)")
    p.add_argument("--base-only", action="store_true",
                   help="with --behaviour: no training; the base policy under each approach's command")
    p.add_argument("--demos", help="with --behaviour: also keep each trained job as a ready-made demo in this "
                                   "folder (the committed demos/ are made this way); with --job-wall: keep "
                                   "each job's composite video there")
    p.add_argument("--job-wall", action="store_true",
                   help="instead: the Go1 hero job's wall stage by stage (fresh, second, after `tabrl warm`; "
                        "60,000 steps unless --steps), appended to the history at the end of --out")
    p.set_defaults(func=_cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tabrl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_models(sub)
    _add_up(sub)
    _add_propose(sub)
    _add_train(sub)
    _add_render(sub)
    _add_measure(sub)
    _add_bench(sub)
    _add_pretrain(sub)
    _add_import_policy(sub)
    _add_serve(sub)
    _add_warm(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tabrl.menagerie import MeshFetchError
    from tabrl.playground import AssetsMissingError, UnknownModelError
    from tabrl.rewards.prompt import PromptError
    from tabrl.rewards.variants import VariantError
    from tabrl.training import StepsError

    try:
        args.func(args)
    except (UserError, UnknownModelError, AssetsMissingError, MeshFetchError, StepsError, PromptError,
            VariantError) as error:
        print(f"tabrl {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
