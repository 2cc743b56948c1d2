"""The drawing model (`tabrl.frames.drawing_model`): the Go1 drawn from simplified meshes
looks like the Go1 drawn from Menagerie's full ones, at a fraction of the faces, and the
physics model it was copied from is left as it was."""

from __future__ import annotations

import numpy as np
import pytest

import mujoco

from tabrl.frames import (AZIMUTH_BY_FAMILY, FAST_SINGLE_SAMPLE_FROM, FRAMING_MARGIN, drawing_model,
                          framing_camera, initial_data, robot_geoms, simplify_mesh)

GO1 = "Go1JoystickFlatTerrain"


@pytest.fixture(scope="module")
def go1():
    from tabrl.policy_rollout import mj_model

    return mj_model(GO1)


def _draw(model, width, height, hide_robot=False):
    """The Go1's first video frame, drawn from `model` as it is (no drawing model)."""
    data = initial_data(model)
    camera = framing_camera(model, data, azimuth=AZIMUTH_BY_FAMILY["locomotion"], margin=FRAMING_MARGIN)
    rgba = model.geom_rgba.copy()
    if hide_robot:
        model.geom_rgba[robot_geoms(model), 3] = 0
    try:
        with mujoco.Renderer(model, height=height, width=width) as renderer:
            renderer.update_scene(data, camera=camera)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            return renderer.render().astype(int)
    finally:
        model.geom_rgba[:] = rgba


def _overlap(go1, drawn, width, height) -> tuple[float, float]:
    """How much the dog drawn from `drawn` covers the same pixels as drawn from `go1`
    (intersection over union of their silhouettes), and their mean pixel difference."""
    full, other = _draw(go1, width, height), _draw(drawn, width, height)
    floor = _draw(go1, width, height, hide_robot=True)

    def silhouette(frame):
        return np.abs(frame - floor).sum(axis=2) > 60

    robot, robot_other = silhouette(full), silhouette(other)
    assert robot.sum() > 0.02 * width * height  # the dog is in the picture
    return (robot & robot_other).sum() / (robot | robot_other).sum(), np.abs(full - other).mean()


@pytest.mark.parametrize("size", [(160, 120), (640, 480)])
def test_the_simplified_go1_looks_like_the_full_one(go1, size):
    width, height = size
    drawn = drawing_model(go1, width, height)
    assert drawn.mesh_facenum.sum() < go1.mesh_facenum.sum() / 4  # 206,331 faces in Menagerie's meshes
    overlap, difference = _overlap(go1, drawn, width, height)
    # Measured: 0.987 at 160x120, 0.999 at 640x480; meshes 6x coarser than that: 0.853, 0.967.
    assert overlap > 0.97, f"the simplified dog covers other pixels (intersection over union {overlap:.3f})"
    assert difference < 1.0  # of 255, whole frame; measured 0.40 and 0.11


@pytest.mark.parametrize("size", [(160, 120), (480, 360), (640, 480)])
def test_a_fast_frame_keeps_the_legs_whole(go1, size):
    """`fast` drops multisampling only where a leg is wide enough to do without it."""
    width, height = size
    drawn = drawing_model(go1, width, height, fast=True)
    overlap, _ = _overlap(go1, drawn, width, height)
    # Measured: 0.987 (multisampled), 0.961 and 0.970 (not); 160x120 without it: 0.882.
    assert overlap > 0.95, f"the fast dog covers other pixels (intersection over union {overlap:.3f})"
    assert (drawn.vis.quality.offsamples == 0) == (height >= FAST_SINGLE_SAMPLE_FROM)


def test_the_physics_model_is_left_alone(go1):
    faces, offscreen, flags = go1.mesh_facenum.copy(), go1.vis.global_.offwidth, go1.opt.disableflags
    drawn = drawing_model(go1, 160, 120, fast=True)
    assert (go1.mesh_facenum == faces).all()
    assert go1.vis.global_.offwidth == offscreen and go1.opt.disableflags == flags
    assert (drawn.vis.global_.offwidth, drawn.vis.global_.offheight) == (160, 120)


def test_simplify_mesh_keeps_a_cube_and_merges_what_shares_a_cell():
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    hull = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
            [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    verts, faces, normals = simplify_mesh(corners, np.array(hull), cell=0.5)
    assert len(verts) == 8 and len(faces) == 12
    assert np.allclose(np.linalg.norm(normals, axis=1), 1)
    # Each corner's normal points out of the cube, along its diagonal.
    assert np.allclose(normals, (verts - 0.5) / np.linalg.norm(verts - 0.5, axis=1, keepdims=True), atol=0.35)
    # A cell larger than the cube collapses it: nothing left to draw.
    verts, faces, _ = simplify_mesh(corners, np.array(hull), cell=10.0)
    assert len(verts) == 1 and len(faces) == 0
