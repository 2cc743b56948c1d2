"""Test-wide settings: offline meshes, headless rendering, a private data dir."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_MENAGERIE = REPO.parent / "shared" / "assets" / "menagerie"

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
if SHARED_MENAGERIE.is_dir():
    os.environ.setdefault("TABRL_MENAGERIE_DIR", str(SHARED_MENAGERIE))
# One data dir for the whole run, so thumbnails and the catalog cache are
# rendered once; tests that need an empty one use their own tmp_path.
os.environ.setdefault("TABRL_DATA_DIR", str(REPO / "build" / "test-data"))

# `api_server`: a real `tabrl serve` on a free port (tests/serve_fixture.py).
pytest_plugins = ["tests.serve_fixture"]
