"""Small files derived from Playground once: the model-id list, feature lists and
sample states.

They live in the data directory (`DATA_DIR/rewards/`), written on first use.
A few also ship with the package (`tabrl/rewards/bundled/`, written by
`python -m tabrl.rewards.cache MODEL...`), so that a first `tabrl propose` on
the hero models needs neither the Playground import (about 5 s) nor a jit
compile of the environment (about 20 s). Every name carries a digest of what
the content depends on (Playground version, feature-set version...), so a
stale file is never read: it is simply not found, and the data is derived
again from the real environment.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Callable

from tabrl.settings import data_dir

BUNDLED_DIR = Path(__file__).parent / "bundled"
BUNDLED_MODELS = ("Go1JoystickFlatTerrain", "CartpoleBalance")


def versioned_name(kind: str, model_id: str | None, suffix: str, *key) -> str:
    parts = [kind, importlib.metadata.version("playground"), model_id, *key]
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]
    return f"{kind}-{model_id}-{digest}{suffix}" if model_id else f"{kind}-{digest}{suffix}"


def find(name: str) -> Path | None:
    """The file, from the data directory or the bundle; None when neither has it."""
    for folder in (data_dir() / "rewards", BUNDLED_DIR):
        path = folder / name
        if path.is_file():
            return path
    return None


def write(name: str, writer: Callable[[Path], None], *, bundle: bool = False) -> Path:
    """Write atomically: `writer` fills a temporary path that then replaces `name`."""
    folder = BUNDLED_DIR if bundle else data_dir() / "rewards"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.tmp{path.suffix}"
    writer(tmp)
    tmp.replace(path)
    return path


def bundle(model_ids: list[str]) -> list[Path]:
    """Derive the model-id list and each model's feature list and sample states into
    the package's bundle folder."""
    from tabrl.rewards.families import feature_family, known_model_ids, model_ids_name
    from tabrl.rewards.features import catalog_name, feature_catalog
    from tabrl.rewards.samples import samples_name, sample_features

    ids = known_model_ids()
    written = [write(model_ids_name(), lambda p: p.write_text(json.dumps(ids)), bundle=True)]
    for model_id in model_ids:
        if feature_family(model_id) != "go1":  # Go1's list is fixed in code
            catalog = [info.model_dump() for info in feature_catalog(model_id)]
            written.append(write(catalog_name(model_id), lambda p: p.write_text(json.dumps(catalog)), bundle=True))
        samples = sample_features(model_id)
        import numpy as np

        written.append(write(samples_name(model_id), lambda p: np.savez_compressed(p, **samples), bundle=True))
    return written


if __name__ == "__main__":
    for path in bundle(sys.argv[1:] or list(BUNDLED_MODELS)):
        print(path)
