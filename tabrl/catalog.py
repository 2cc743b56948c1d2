"""The model catalog: every MuJoCo Playground model, with what a person needs to
pick one (name, family, sizes, a thumbnail, whether it can run here).

Building it cold loads every environment and renders thumbnails (86 s on an idle
2-core machine), so it is built once by `tabrl models --rebuild-bundle` and
shipped in the package (`tabrl/catalog_bundle/`, read by `tabrl.catalog_bundle`).
A fresh install reads the bundle and only works out what depends on this machine:
whether each robot's meshes are here, and which models have a base policy; it
probes only models the bundle could not load for want of meshes that are here now.
The cold path runs only when the installed Playground or MuJoCo differs from the
bundle's. The result is cached as JSON in the data directory, keyed by the
versions and the robot folders it depends on, so a warm `tabrl models` imports
neither JAX nor Playground.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import tabrl
from tabrl.files import write_atomically
from tabrl.model_info import CATALOG_FORMAT, ModelEntry, library_versions, name_and_description
from tabrl.settings import data_dir

BASE_POLICY_ROOT = Path(__file__).parent / "base_policies"
THUMBNAIL_SIZE = (320, 240)
Progress = Callable[[int, int], None]  # (models done, models in all)


def base_policy_dir(model_id: str) -> Path | None:
    """The committed base checkpoint of a model, if it has one (`tabrl pretrain` writes them)."""
    path = BASE_POLICY_ROOT / model_id
    complete = all((path / name).is_file() for name in ("config.json", "params.msgpack"))
    return path if complete else None


def base_policy_fields(model_id: str) -> dict:
    """`base_policy` and `base_policy_source` of a model's catalog entry."""
    from tabrl.base_policy import base_policy_source

    base = base_policy_dir(model_id)
    return {"base_policy": base is not None, "base_policy_source": base_policy_source(base) if base else None}


def thumbnail_path(model_id: str) -> Path:
    return data_dir() / "thumbnails" / f"{model_id}.png"


def _fingerprint() -> str:
    from tabrl import catalog_bundle, menagerie

    bases = sorted(p.name for p in BASE_POLICY_ROOT.iterdir()) if BASE_POLICY_ROOT.is_dir() else []
    key = [CATALOG_FORMAT, tabrl.__version__, library_versions(), menagerie.installed_robots(), bases,
           catalog_bundle.digest()]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _sizes(env) -> dict:
    obs = env.observation_size
    if isinstance(obs, int):
        return {"observation_size": obs}
    shapes = {key: [int(v)] if isinstance(v, int) else [int(d) for d in v] for key, v in obs.items()}
    policy_obs = shapes.get("state") or next(iter(shapes.values()))
    return {"observation_size": int(policy_obs[-1]), "observation_shapes": shapes}


def render_thumbnail(model_id: str, mj_model, family: str, out: Path) -> Path:
    """Render the model at its initial pose, framed on the robot, to a PNG."""
    from PIL import Image

    from tabrl.frames import AZIMUTH_BY_FAMILY, framing_camera, initial_data, render_still

    data = initial_data(mj_model)
    camera = framing_camera(mj_model, data, azimuth=AZIMUTH_BY_FAMILY[family])
    width, height = THUMBNAIL_SIZE
    pixels = render_still(mj_model, data, camera, width=width, height=height)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    Image.fromarray(pixels).save(tmp)
    tmp.replace(out)
    return out


def probe_model(model_id: str, family: str) -> ModelEntry:
    """Load one model and describe it; any failure makes it unavailable, with the reason."""
    from tabrl.playground import AssetsMissingError, load_env

    name, description = name_and_description(model_id, family)
    entry = ModelEntry(
        id=model_id,
        name=name,
        family=family,
        description=description,
        **base_policy_fields(model_id),
    )
    try:
        env = load_env(model_id)
    except AssetsMissingError as error:
        return entry.model_copy(update={"unavailable_reason": str(error), "meshes_missing": True})
    except Exception as error:  # a model that cannot load must not hide the others
        reason = f"{model_id} failed to load: {type(error).__name__}: {error}"
        return entry.model_copy(update={"unavailable_reason": reason.splitlines()[0]})
    update = _sizes(env) | {"action_size": int(env.action_size), "dof": int(env.mj_model.nv)}
    thumb = thumbnail_path(model_id)
    try:
        if not thumb.is_file():
            render_thumbnail(model_id, env.mj_model, family, thumb)
        update["thumbnail"] = str(thumb)
    except Exception as error:  # no OpenGL: still trainable, just no picture
        print(f"tabrl: no thumbnail for {model_id}: {error}", file=sys.stderr)
    return entry.model_copy(update=update | {"available": True})


def build_catalog(progress: Progress | None = None) -> list[ModelEntry]:
    """The cold path: load every registry model and render its thumbnail."""
    from tqdm import tqdm

    from tabrl.playground import family_by_model

    models = family_by_model()
    bar = tqdm(
        models.items(),
        desc="Building the model catalog",
        unit="model",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
    )
    entries = []
    for model_id, family in bar:
        if progress:
            progress(len(entries), len(models))
        entries.append(probe_model(model_id, family))
    return entries


def _from_bundle(bundled: list[ModelEntry], progress: Progress | None) -> list[ModelEntry]:
    """The bundle's entries with this machine's facts; probes the few that need it."""
    from tabrl.catalog_bundle import needs_probe, on_this_machine

    entries = []
    for entry in bundled:
        if progress:
            progress(len(entries), len(bundled))
        entry = entry.model_copy(update=base_policy_fields(entry.id))
        entries.append(probe_model(entry.id, entry.family) if needs_probe(entry) else on_this_machine(entry))
    return entries


def quick_catalog() -> list[ModelEntry] | None:
    """The catalog without loading any environment: the cache when current, else the bundle
    with this machine's facts (models that need a probe listed as being checked); None when
    neither fits (the cold path is needed)."""
    from tabrl.catalog_bundle import needs_probe, on_this_machine, read_bundle

    cached = _read_cache(_fingerprint())
    if cached is not None:
        return cached
    bundled = read_bundle()
    if bundled is None:
        return None
    checking = "being checked on this machine; it is listed in a moment"
    return [
        entry.model_copy(update={"available": False, "meshes_missing": False,
                                 "unavailable_reason": f"{entry.id} is {checking}"})
        if needs_probe(entry) else on_this_machine(entry.model_copy(update=base_policy_fields(entry.id)))
        for entry in bundled
    ]


def _cache_file() -> Path:
    return data_dir() / "catalog.json"


def _read_cache(key: str) -> list[ModelEntry] | None:
    cache = _cache_file()
    if not cache.is_file():
        return None
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            entries = [ModelEntry.model_validate(e) for e in cached["models"]]
            if all(e.thumbnail is None or Path(e.thumbnail).is_file() for e in entries):
                return entries
    except (ValueError, KeyError, TypeError):
        pass  # a damaged cache is rebuilt
    return None


def load_catalog(refresh: bool = False, progress: Progress | None = None) -> list[ModelEntry]:
    """The catalog: the cache when current, else the bundle (cold build when it does not fit
    the installed libraries, or with `refresh`), cached."""
    from tabrl.catalog_bundle import read_bundle

    key = _fingerprint()
    if not refresh:
        cached = _read_cache(key)
        if cached is not None:
            return cached
    bundled = None if refresh else read_bundle()
    entries = build_catalog(progress) if bundled is None else _from_bundle(bundled, progress)
    _write_cache(key, entries)
    return entries


def _write_cache(key: str, entries: list[ModelEntry]) -> None:
    payload = {"key": key, "models": [e.model_dump(mode="json") for e in entries]}
    write_atomically(_cache_file(), json.dumps(payload, indent=1))


def fetch_meshes(model_id: str, progress=None) -> ModelEntry:
    """Download the robot meshes `model_id` needs (`tabrl.menagerie`), then probe the models
    that were waiting for them and update the cache; the model's new entry.

    Raises `MeshFetchError` (one sentence: offline, server failure, damaged archive)."""
    from tabrl import menagerie
    from tabrl.playground import check_model_id, ensure_meshes

    check_model_id(model_id)
    entries = load_catalog()
    ensure_meshes(model_id, progress)
    fetched = set(menagerie.robots_for(model_id) or ())
    entries = [
        probe_model(e.id, e.family) if not e.available and fetched & set(menagerie.robots_for(e.id) or ()) else e
        for e in entries
    ]
    _write_cache(_fingerprint(), entries)
    return next(e for e in entries if e.id == model_id)


def get_model(model_id: str) -> ModelEntry:
    """One catalog entry; `UnknownModelError` (with suggestions) for an unknown id."""
    from tabrl.playground import check_model_id

    for entry in load_catalog():
        if entry.id == model_id:
            return entry
    check_model_id(model_id)  # raises with close matches
    raise AssertionError("unreachable: registry and catalog disagree")


def format_table(entries: list[ModelEntry]) -> str:
    """A table for people, in registry order."""
    header = f"{'MODEL':38} {'FAMILY':17} {'OBS':>4} {'ACT':>4} {'BASE':4}  STATUS"
    lines = [header, "-" * len(header)]
    for e in entries:
        status = "ready" if e.available else f"unavailable: {_short_reason(e.unavailable_reason)}"
        lines.append(
            f"{e.id:38} {e.family:17} {e.observation_size or '-':>4} {e.action_size or '-':>4} "
            f"{'yes' if e.base_policy else '':4}  {status}"
        )
    ready = sum(e.available for e in entries)
    lines.append(f"\n{ready} of {len(entries)} models ready. `tabrl models --json` for details.")
    if ready < len(entries):
        from tabrl.playground import menagerie_fix_hint

        lines.append("Models marked 'meshes missing': " + menagerie_fix_hint())
    return "\n".join(lines)


def _short_reason(reason: str | None) -> str:
    if reason and ("Menagerie" in reason or "mesh" in reason):
        return "meshes missing"
    return (reason or "unknown")[:60]
