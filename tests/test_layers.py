"""The layering README states, held by import-linter's contracts (`[tool.importlinter]` in
pyproject.toml): the core imports no adapter, the UI reaches the Serve app only through its
HTTP schemas, nothing runs back up a layer, and no package has an import circle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint(*args: str) -> subprocess.CompletedProcess:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is not installed (it is in requirements.lock: make test installs it)"
    return subprocess.run([lint, "--no-cache", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_the_contracts_catch_a_core_module_that_imports_an_adapter(tmp_path):
    """A contract that could not fail would prove nothing: a copy of the project with one core
    module importing Tune lazily, inside a function, breaks the core's contract."""
    for name in ("tabrl", "tabrl_cli", "serve_app", "tune_jobs", "streamlit_ui"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("assets", "base_policies",
                                                                                     "catalog_bundle", "bundled"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tabrl" / "sneaky.py").write_text("def train():\n    from tune_jobs.pipeline import train_and_render\n")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    result = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "tabrl.sneaky -> tune_jobs.pipeline" in result.stdout
