"""The model catalog, through the real `tabrl` CLI and real MuJoCo rendering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

TABRL = [sys.executable, "-m", "tabrl_cli"]
REQUIRED = {
    "id", "name", "family", "observation_size", "action_size", "description",
    "thumbnail", "base_policy", "available", "unavailable_reason",
}


def run_tabrl(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TABRL, *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=REPO,
    )


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict]:
    result = run_tabrl("models", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    return {entry["id"]: entry for entry in entries}


def test_catalog_lists_every_registry_model_in_order(catalog):
    from mujoco_playground import registry

    assert list(catalog) == list(registry.ALL_ENVS)
    for entry in catalog.values():
        assert REQUIRED <= set(entry), entry["id"]
        assert entry["family"] in {"dm_control_suite", "locomotion", "manipulation"}
        assert entry["name"] and entry["description"].endswith(".")
        if entry["available"]:
            assert entry["observation_size"] > 0 and entry["action_size"] > 0
            assert entry["unavailable_reason"] is None
        else:
            assert entry["unavailable_reason"], entry["id"]


@pytest.mark.parametrize("model_id, obs, act", [("Go1JoystickFlatTerrain", 48, 12), ("CartpoleBalance", 5, 1)])
def test_hero_models_are_available_with_thumbnails(catalog, model_id, obs, act):
    entry = catalog[model_id]
    assert entry["available"], entry["unavailable_reason"]
    assert (entry["observation_size"], entry["action_size"]) == (obs, act)
    thumbnail = Image.open(entry["thumbnail"])
    assert thumbnail.format in ("PNG", "JPEG") and thumbnail.size == (320, 240)


def test_every_go1_model_loads_with_nothing_set(tmp_path):
    """The Go1 meshes ship in the package: no TABRL_MENAGERIE_DIR, an empty data folder, no network."""
    code = (
        "from tabrl.playground import family_by_model, load_env;"
        "ids = [m for m in family_by_model() if m.startswith('Go1')];"
        "print(*[f'{m}={load_env(m).action_size}' for m in ids])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TABRL_MENAGERIE_DIR"}
    env["TABRL_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    loaded = dict(item.split("=") for item in result.stdout.split())
    assert {"Go1JoystickFlatTerrain", "Go1JoystickRoughTerrain"} <= set(loaded)
    assert set(loaded.values()) == {"12"}
    assert not (tmp_path / "data" / "menagerie").exists()  # nothing was downloaded


def test_models_without_meshes_are_unavailable_with_a_fix(tmp_path):
    """An empty Menagerie folder: the G1 and the Panda are reported, not crashed on, no clone
    starts; the Go1 still comes from the package."""
    empty = tmp_path / "menagerie"
    empty.mkdir()
    code = (
        "import json; from tabrl.catalog import probe_model;"
        "print(json.dumps([probe_model(m, f).model_dump() for m, f in "
        "[('G1JoystickFlatTerrain', 'locomotion'), ('PandaPickCube', 'manipulation'),"
        " ('Go1JoystickFlatTerrain', 'locomotion')]]))"
    )
    env = {**os.environ, "TABRL_MENAGERIE_DIR": str(empty), "TABRL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    g1, panda, go1 = json.loads(result.stdout.splitlines()[-1])
    for entry in (g1, panda):
        assert entry["available"] is False and entry["meshes_missing"] is True
        assert entry["thumbnail"] is None
        assert "TABRL_MENAGERIE_DIR" in entry["unavailable_reason"]
    assert "unitree_g1 meshes" in g1["unavailable_reason"]
    assert go1["available"] is True
    assert list(empty.iterdir()) == []  # nothing was cloned into it


def test_missing_meshes_are_a_clear_error_not_a_clone(tmp_path, monkeypatch):
    from tabrl.playground import AssetsMissingError, load_env

    monkeypatch.setenv("TABRL_MENAGERIE_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("TABRL_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(AssetsMissingError, match="unitree_g1 meshes.*git clone"):
        load_env("G1JoystickFlatTerrain")
    assert not (tmp_path / "nowhere").exists()
    assert not (tmp_path / "data" / "menagerie").exists()


def test_unknown_model_suggests_close_names():
    from tabrl.playground import UnknownModelError, check_model_id, load_env

    with pytest.raises(UnknownModelError, match="Did you mean Go1JoystickFlatTerrain"):
        load_env("Go1JoystickFlat")
    with pytest.raises(UnknownModelError, match="Unknown model"):
        check_model_id("../../etc/passwd")


def _robot_pixels(model_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The catalog's thumbnail, and a render of the same view with the robot hidden."""
    from tabrl.catalog import THUMBNAIL_SIZE, get_model
    from tabrl.playground import family_by_model, load_env
    from tabrl.frames import AZIMUTH_BY_FAMILY, framing_camera, initial_data, render_still, robot_geoms

    thumbnail = np.asarray(Image.open(get_model(model_id).thumbnail).convert("RGB")).astype(int)
    model = load_env(model_id).mj_model
    data = initial_data(model)
    camera = framing_camera(model, data, azimuth=AZIMUTH_BY_FAMILY[family_by_model()[model_id]])
    width, height = THUMBNAIL_SIZE
    empty = render_still(model, data, camera, width, height, hide_geoms=robot_geoms(model)).astype(int)
    return thumbnail, empty


@pytest.mark.parametrize("model_id", ["Go1JoystickFlatTerrain", "CartpoleBalance"])
def test_thumbnail_shows_the_robot_in_frame(catalog, model_id):
    thumbnail, empty = _robot_pixels(model_id)
    assert thumbnail.std() > 10, "blank thumbnail"
    robot = np.abs(thumbnail - empty).sum(axis=-1) > 30
    # The robot covers a real part of the picture, not a speck and not everything.
    assert 0.03 < robot.mean() < 0.8, robot.mean()
    rows, cols = np.nonzero(robot)
    height, width = robot.shape
    # Its projected box sits inside the frame, around the middle.
    assert 0.25 * width < cols.mean() < 0.75 * width
    assert 0.2 * height < rows.mean() < 0.8 * height
    assert cols.max() - cols.min() > 0.15 * width


def test_table_is_readable(catalog):
    result = run_tabrl("models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "FAMILY", "OBS"]
    assert any(line.startswith("CartpoleBalance ") and line.endswith("ready") for line in lines)
    ready = sum(entry["available"] for entry in catalog.values())
    assert f"{ready} of {len(catalog)} models ready" in result.stdout


def test_warm_catalog_imports_neither_jax_nor_playground(catalog):
    """Why a warm `tabrl models` is fast (measured in README): it only reads the cache."""
    code = (
        "import sys; from tabrl.catalog import load_catalog; n = len(load_catalog());"
        "print(n, 'jax' in sys.modules, 'mujoco_playground' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == [str(len(catalog)), "False", "False"], result.stderr


def test_fresh_install_reads_the_bundled_catalog(tmp_path):
    """An empty data folder, nothing set: every model listed at once from the package's bundle,
    without loading an environment, the Go1 ready with its bundled thumbnail."""
    code = (
        "import json, sys, time; t = time.monotonic(); from tabrl.catalog import load_catalog;"
        "entries = load_catalog(); dt = time.monotonic() - t;"
        "print(json.dumps({'seconds': dt, 'jax': 'jax' in sys.modules,"
        " 'playground': 'mujoco_playground' in sys.modules, 'models': [e.model_dump() for e in entries]}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TABRL_MENAGERIE_DIR"}
    env["TABRL_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert not out["jax"] and not out["playground"]
    assert out["seconds"] < 3, out["seconds"]
    models = {entry["id"]: entry for entry in out["models"]}
    from mujoco_playground import registry

    assert list(models) == list(registry.ALL_ENVS)
    go1 = models["Go1JoystickFlatTerrain"]
    assert go1["available"] and go1["observation_size"] == 48
    assert Path(go1["thumbnail"]).is_relative_to(REPO / "tabrl" / "catalog_bundle")
    assert sum(bool(entry["thumbnail"]) for entry in models.values()) >= 25
    g1 = models["G1JoystickFlatTerrain"]
    assert not g1["available"] and g1["meshes_missing"] and "unitree_g1" in g1["unavailable_reason"]


def test_bundle_is_small():
    bundle = REPO / "tabrl" / "catalog_bundle"
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert size < 1_000_000, size


def test_thumbnails_are_rendered_only_when_missing(tmp_path, monkeypatch):
    from tabrl.catalog import probe_model, thumbnail_path

    monkeypatch.setenv("TABRL_DATA_DIR", str(tmp_path))
    entry = probe_model("CartpoleBalance", "dm_control_suite")
    thumb = thumbnail_path("CartpoleBalance")
    assert entry.thumbnail == str(thumb) and thumb.is_file()
    before = thumb.stat().st_mtime_ns
    probe_model("CartpoleBalance", "dm_control_suite")
    assert thumb.stat().st_mtime_ns == before


def test_core_package_imports_neither_ray_nor_streamlit():
    code = (
        "import importlib, pkgutil, sys, tabrl\n"
        "for m in pkgutil.walk_packages(tabrl.__path__, 'tabrl.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('ray', 'streamlit')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_bundle_built_for_another_playground_is_not_used(tmp_path, monkeypatch):
    """Then the cold path is needed: `quick_catalog` (what the API answers with at once) says so."""
    from tabrl import catalog, catalog_bundle

    monkeypatch.setenv("TABRL_DATA_DIR", str(tmp_path))
    assert catalog_bundle.read_bundle() is not None and catalog.quick_catalog() is not None
    real = catalog_bundle.library_versions()
    monkeypatch.setattr(catalog_bundle, "library_versions", lambda: {**real, "playground": "9.9.9"})
    assert catalog_bundle.read_bundle() is None
    assert catalog.quick_catalog() is None
