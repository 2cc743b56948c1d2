"""The model catalog shipped in the package, so a fresh install lists every model at once.

`tabrl models --rebuild-bundle` runs the cold path (every environment loaded, thumbnails
rendered) and writes `tabrl/catalog_bundle/catalog.json` plus one small JPEG per
thumbnail. The bundle records what the build machine measured (sizes, degrees of
freedom, the picture, load failures); what depends on the machine it runs on (are
the robot's meshes here? a base policy?) is worked out again when it is read.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from pydantic import BaseModel

from tabrl.model_info import CATALOG_FORMAT, ModelEntry, library_versions

BUNDLE_DIR = Path(__file__).parent / "catalog_bundle"
INDEX = BUNDLE_DIR / "catalog.json"
JPEG_QUALITY = 80


class Bundle(BaseModel):
    format: int
    versions: dict[str, str]
    """The libraries it was built with; another version means the cold path."""
    models: list[ModelEntry]
    """`thumbnail` is a file name under `thumbnails/`; `available` means it loaded when built."""


def digest() -> str:
    """Changes whenever the bundle does (part of the data-folder cache's key)."""
    return hashlib.sha256(INDEX.read_bytes()).hexdigest()[:16] if INDEX.is_file() else "none"


def read_bundle() -> list[ModelEntry] | None:
    """The bundled entries (thumbnails as absolute paths), or None when there is no bundle
    or it was built for other library versions."""
    if not INDEX.is_file():
        return None
    try:
        bundle = Bundle.model_validate_json(INDEX.read_text())
    except ValueError:
        return None
    if bundle.format != CATALOG_FORMAT or bundle.versions != library_versions():
        return None
    return [
        entry.model_copy(update={"thumbnail": str(BUNDLE_DIR / entry.thumbnail) if entry.thumbnail else None})
        for entry in bundle.models
    ]


def _meshes_reason(entry: ModelEntry) -> str | None:
    if entry.family == "dm_control_suite":
        return None
    from tabrl.playground import missing_meshes_reason

    return missing_meshes_reason(entry.id)


def needs_probe(entry: ModelEntry) -> bool:
    """Not loaded when the bundle was built, for want of meshes that this machine has."""
    return not entry.available and entry.family != "dm_control_suite" and _meshes_reason(entry) is None


def on_this_machine(entry: ModelEntry) -> ModelEntry:
    """A bundled entry with this machine's mesh availability."""
    reason = _meshes_reason(entry)
    if reason:
        return entry.model_copy(update={"available": False, "unavailable_reason": reason, "meshes_missing": True})
    return entry.model_copy(update={"meshes_missing": False})


def write_bundle(entries: list[ModelEntry]) -> Path:
    """Replace the bundle with `entries` (their thumbnails re-encoded as JPEG)."""
    from PIL import Image

    thumbs = BUNDLE_DIR / "thumbnails"
    shutil.rmtree(thumbs, ignore_errors=True)
    thumbs.mkdir(parents=True)
    models = []
    for entry in entries:
        name = None
        if entry.thumbnail and Path(entry.thumbnail).is_file():
            name = f"thumbnails/{entry.id}.jpg"
            Image.open(entry.thumbnail).convert("RGB").save(BUNDLE_DIR / name, quality=JPEG_QUALITY, optimize=True)
        models.append(entry.model_copy(update={"thumbnail": name, "base_policy": False, "base_policy_source": None}))
    bundle = Bundle(format=CATALOG_FORMAT, versions=library_versions(), models=models)
    INDEX.write_text(bundle.model_dump_json(indent=1) + "\n")
    return BUNDLE_DIR
