"""Test-wide settings: headless rendering, a private data dir (the Go1 meshes ship in the package)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# One data dir for the whole run, so thumbnails and the catalog cache are
# rendered once; tests that need an empty one use their own tmp_path.
os.environ.setdefault("TABRL_DATA_DIR", str(REPO / "build" / "test-data"))

# `api_server`: a real `tabrl serve` on a free port (tests/serve_fixture.py).
pytest_plugins = ["tests.serve_fixture"]
