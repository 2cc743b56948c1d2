"""Loading MuJoCo Playground environments the way TabRL needs them.

Two things differ from calling `mujoco_playground.registry.load` directly:

* Robot meshes. Locomotion and manipulation environments read MuJoCo Menagerie
  from `mujoco_playground._src.mjx_env.MENAGERIE_PATH` (a folder inside
  site-packages) and, when it is missing, `git clone` it with no time limit.
  TabRL points that path, per model and before loading it, at the folder that
  holds the model's robots (`tabrl.menagerie`: `TABRL_MENAGERIE_DIR`, else the
  Go1 shipped in the package, else robots downloaded into the data folder), and
  never lets Playground start a clone: missing meshes are an `AssetsMissingError`
  that says how to get them. (Decision: patch the module attribute at run time
  rather than symlink into site-packages, so the virtual environment stays
  exactly what the lock file installed.)
* The simulator implementation. Playground 0.2 defaults to MuJoCo Warp, which is
  for NVIDIA GPUs; on a CPU TabRL uses classic MJX (`impl="jax"`).
  `TABRL_MJX_IMPL` overrides the choice.
"""

from __future__ import annotations

import difflib
import importlib.util
import functools
import os
from pathlib import Path
from typing import Any

from tabrl.settings import menagerie_dir_override

FAMILIES = ("dm_control_suite", "locomotion", "manipulation")
MENAGERIE_REPO = "https://github.com/google-deepmind/mujoco_menagerie"


class UnknownModelError(ValueError):
    """The model id is not in the Playground registry."""


class AssetsMissingError(RuntimeError):
    """The model's robot meshes (MuJoCo Menagerie) are not installed."""


@functools.cache
def family_by_model() -> dict[str, str]:
    """Every Playground registry id mapped to its family, in registry order."""
    from mujoco_playground import dm_control_suite, locomotion, manipulation

    modules = {
        "dm_control_suite": dm_control_suite,
        "locomotion": locomotion,
        "manipulation": manipulation,
    }
    return {env_id: family for family, module in modules.items() for env_id in module.ALL_ENVS}


def model_ids() -> list[str]:
    return list(family_by_model())


def check_model_id(model_id: str) -> str:
    """Return `model_id` if it is a registry id, else raise with the closest names."""
    ids = family_by_model()
    if model_id in ids:
        return model_id
    close = difflib.get_close_matches(model_id, list(ids), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"Unknown model {model_id!r}.{hint} `tabrl models` lists the {len(ids)} models."
    )


def playground_menagerie_path() -> Path:
    """`TABRL_MENAGERIE_DIR`, else Playground's own `external_deps/mujoco_menagerie`: the
    root for a model `tabrl.menagerie` has no robot table for (a newer Playground).

    Cheap: it finds Playground's folder without importing it."""
    override = menagerie_dir_override()
    if override is not None:
        return override
    spec = importlib.util.find_spec("mujoco_playground")
    if spec is None or spec.origin is None:
        raise RuntimeError("MuJoCo Playground is not installed: run `make venv`.")
    return Path(spec.origin).parent.parent / "external_deps" / "mujoco_menagerie"


def needs_menagerie(model_id: str) -> bool:
    return family_by_model()[check_model_id(model_id)] != "dm_control_suite"


def menagerie_fix_hint() -> str:
    return (
        "TabRL downloads a robot's meshes when you pick it (`tabrl train --model ID` or the UI), which "
        f"needs the internet; offline, `git clone {MENAGERIE_REPO} DIR` elsewhere, copy it here "
        "and set TABRL_MENAGERIE_DIR=DIR."
    )


def missing_meshes_reason(model_id: str) -> str | None:
    """One sentence and the fix when a model's robot meshes are not on this machine; None when they are."""
    from tabrl import menagerie

    robots = menagerie.robots_for(model_id)
    if robots is None:
        root = playground_menagerie_path()
        return None if root.is_dir() else (
            f"{model_id} needs MuJoCo Menagerie meshes, and {root} does not exist. " + menagerie_fix_hint())
    absent = menagerie.missing(robots)
    if not absent:
        return None
    size = menagerie.download_size(tuple(absent))
    size_text = f", a {size / 2**20:.1f} MB download" if size else ""
    return (f"{model_id} needs the {' and '.join(absent)} meshes{size_text}, not on this machine yet. "
            + menagerie_fix_hint())


def menagerie_root(model_id: str) -> Path:
    """The Menagerie root Playground must read for `model_id` (`AssetsMissingError` if none holds it)."""
    from tabrl import menagerie

    reason = missing_meshes_reason(model_id)
    if reason:
        raise AssetsMissingError(reason)
    robots = menagerie.robots_for(model_id)
    return playground_menagerie_path() if robots is None else menagerie.root_for(robots)


def ensure_meshes(model_id: str, progress=None) -> None:
    """Download the model's robot meshes if no root holds them yet (`MeshFetchError` on failure)."""
    from tabrl import menagerie

    robots = menagerie.robots_for(check_model_id(model_id)) if needs_menagerie(model_id) else None
    if robots:
        menagerie.fetch_robots(robots, progress=progress)


def default_impl() -> str:
    """`TABRL_MJX_IMPL`, else classic MJX ("jax") on a CPU and MuJoCo Warp on a GPU."""
    configured = os.environ.get("TABRL_MJX_IMPL")
    if configured:
        return configured
    import jax

    return "jax" if jax.default_backend() == "cpu" else "warp"


def default_config(model_id: str):
    from mujoco_playground import registry

    return registry.get_default_config(check_model_id(model_id))


def load_env(model_id: str, config_overrides: dict[str, Any] | None = None):
    """Load a Playground environment, ready for MJX on this machine.

    Raises `UnknownModelError` for an id outside the registry and
    `AssetsMissingError` (with how to fix it) when its meshes are not installed.
    """
    from mujoco_playground import registry

    check_model_id(model_id)
    overrides = dict(config_overrides or {})
    root = None
    if needs_menagerie(model_id):
        from tabrl.internals import set_menagerie_path

        root = menagerie_root(model_id)
        set_menagerie_path(root)
    if "impl" in default_config(model_id):
        overrides.setdefault("impl", default_impl())
    try:
        return registry.load(model_id, config_overrides=overrides)
    except ValueError as error:
        from tabrl.internals import missing_file

        missing = missing_file(error)
        if missing is None:
            raise
        raise AssetsMissingError(
            f"{model_id}: robot mesh {missing!r} not found under {root}. "
            + menagerie_fix_hint()
        ) from error
