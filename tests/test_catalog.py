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

from conftest import REPO, SHARED_MENAGERIE

TABRL = [sys.executable, "-m", "tabrl.cli"]
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


@pytest.mark.skipif(not SHARED_MENAGERIE.is_dir(), reason="needs ../shared/assets/menagerie")
@pytest.mark.parametrize("model_id, obs, act", [("Go1JoystickFlatTerrain", 48, 12), ("CartpoleBalance", 5, 1)])
def test_hero_models_are_available_with_png_thumbnails(catalog, model_id, obs, act):
    entry = catalog[model_id]
    assert entry["available"], entry["unavailable_reason"]
    assert (entry["observation_size"], entry["action_size"]) == (obs, act)
    thumbnail = Path(entry["thumbnail"])
    assert thumbnail.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(thumbnail).size == (320, 240)


def test_models_without_meshes_are_unavailable_with_a_fix(tmp_path):
    """An empty Menagerie folder: Go1 is reported, not crashed on, and no clone starts."""
    empty = tmp_path / "menagerie"
    empty.mkdir()
    code = (
        "import json; from tabrl.catalog import probe_model;"
        "print(json.dumps([probe_model(m, f).model_dump() for m, f in "
        "[('Go1JoystickFlatTerrain', 'locomotion'), ('PandaPickCube', 'manipulation')]]))"
    )
    env = {**os.environ, "TABRL_MENAGERIE_DIR": str(empty), "TABRL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    for entry in json.loads(result.stdout.splitlines()[-1]):
        assert entry["available"] is False
        assert entry["thumbnail"] is None
        assert "TABRL_MENAGERIE_DIR" in entry["unavailable_reason"]
    assert list(empty.iterdir()) == []  # nothing was cloned into it


def test_missing_menagerie_folder_is_a_clear_error_not_a_clone(tmp_path):
    from tabrl.playground import AssetsMissingError, load_env

    os.environ["TABRL_MENAGERIE_DIR"], saved = str(tmp_path / "nowhere"), os.environ.get("TABRL_MENAGERIE_DIR")
    try:
        with pytest.raises(AssetsMissingError, match="does not exist.*git clone"):
            load_env("Go1JoystickFlatTerrain")
    finally:
        os.environ["TABRL_MENAGERIE_DIR"] = saved or ""
        if saved is None:
            del os.environ["TABRL_MENAGERIE_DIR"]
    assert not (tmp_path / "nowhere").exists()


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
    from tabrl.rendering import AZIMUTH_BY_FAMILY, framing_camera, initial_data, render_still, robot_geoms

    thumbnail = np.asarray(Image.open(get_model(model_id).thumbnail).convert("RGB")).astype(int)
    model = load_env(model_id).mj_model
    data = initial_data(model)
    camera = framing_camera(model, data, azimuth=AZIMUTH_BY_FAMILY[family_by_model()[model_id]])
    width, height = THUMBNAIL_SIZE
    empty = render_still(model, data, camera, width, height, hide_geoms=robot_geoms(model)).astype(int)
    return thumbnail, empty


@pytest.mark.skipif(not SHARED_MENAGERIE.is_dir(), reason="needs ../shared/assets/menagerie")
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


def test_thumbnails_are_rendered_only_when_missing(catalog):
    from tabrl.catalog import load_catalog, thumbnail_path

    thumb = thumbnail_path("CartpoleBalance")
    before = thumb.stat().st_mtime_ns
    load_catalog()
    assert thumb.stat().st_mtime_ns == before
    thumb.unlink()
    entry = next(e for e in load_catalog() if e.id == "CartpoleBalance")
    assert Path(entry.thumbnail).is_file()


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
