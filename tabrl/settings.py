"""Where TabRL keeps its files, from environment variables with sane defaults."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The data directory (thumbnails, catalog cache, jobs): `TABRL_DATA_DIR`,
    else `$XDG_DATA_HOME/tabrl`, else `~/.local/share/tabrl`. Created on first use."""
    configured = os.environ.get("TABRL_DATA_DIR")
    if configured:
        path = Path(configured).expanduser()
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "tabrl"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def menagerie_dir_override() -> Path | None:
    """`TABRL_MENAGERIE_DIR`, when set: a MuJoCo Menagerie checkout (or a part of one)."""
    configured = os.environ.get("TABRL_MENAGERIE_DIR")
    return Path(configured).expanduser().resolve() if configured else None


def compile_cache_dir() -> Path:
    """JAX's persistent compilation cache, shared by every batch and trial on this
    machine: `TABRL_JAX_CACHE_DIR`, else `DATA_DIR/jax-cache`."""
    configured = os.environ.get("TABRL_JAX_CACHE_DIR")
    path = Path(configured).expanduser() if configured else data_dir() / "jax-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def executable_store_enabled() -> bool:
    """Whether trials load ready-made training programs from `<compile cache>/executables`
    (`tabrl.training.executables`); `TABRL_EXECUTABLE_STORE=0` turns it off (JAX's persistent
    cache alone then serves the later trials, after tracing and lowering)."""
    return os.environ.get("TABRL_EXECUTABLE_STORE", "1").strip().lower() not in ("0", "false", "no", "off")
