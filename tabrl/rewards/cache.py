"""Small files derived from Playground once: the model-id list, feature lists and
sample states.

They live in the data directory (`DATA_DIR/rewards/`), written on first use.
A few also ship with the package (`tabrl/rewards/bundled/`, written by
`python -m tabrl.rewards.bundle MODEL...`), so that a first `tabrl propose` on
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
from pathlib import Path
from typing import Callable

from tabrl.settings import data_dir

BUNDLED_DIR = Path(__file__).parent / "bundled"


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
