"""Drawing MuJoCo states to pixels: a camera that frames the robot and follows it, still frames.

Below `tabrl.rendering` (policy videos) and `tabrl.drawing` (the frames of several
videos drawn in parallel processes), which both draw through `iter_frames`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np

import mujoco

# Seen from three-quarters front for robots that walk the floor; from the side
# for the planar control-suite models, which move in the x-z plane.
AZIMUTH_BY_FAMILY = {"dm_control_suite": 90.0, "locomotion": 135.0, "manipulation": 135.0}


def robot_geoms(model: mujoco.MjModel) -> np.ndarray:
    """Ids of the geoms a default render shows (groups 0-2, not transparent) that are
    not part of the world body (floor, walls, rails)."""
    ids = np.arange(model.ngeom)
    shown = (model.geom_group <= 2) & (model.geom_rgba[:, 3] > 0)
    return ids[(model.geom_bodyid != 0) & shown]


def robot_bounds(model: mujoco.MjModel, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
    """World-frame axis-aligned box (low, high) around the robot's geoms."""
    geoms = robot_geoms(model)
    if geoms.size == 0:
        half = np.full(3, model.stat.extent / 2)
        return model.stat.center - half, model.stat.center + half
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
    aabb = model.geom_aabb[geoms]  # local frame: center (3), half-size (3)
    local = aabb[:, None, :3] + signs[None] * aabb[:, None, 3:]
    rot = data.geom_xmat[geoms].reshape(-1, 3, 3)
    corners = data.geom_xpos[geoms][:, None] + np.einsum("gij,gkj->gki", rot, local)
    corners = corners.reshape(-1, 3)
    return corners.min(axis=0), corners.max(axis=0)


def simplify_mesh(verts: np.ndarray, faces: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex clustering: every vertex moves to the mean of the vertices in its `cell`-sized
    grid cube, faces that collapse are dropped. Returns (vertices, faces, area-weighted
    vertex normals). No vertex moves more than a cell's diagonal, so a cell of one pixel
    keeps the silhouette to within a pixel or so."""
    keys = np.floor(verts / cell).astype(np.int64)
    _, cluster, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.reshape(-1)
    new_verts = np.zeros((counts.size, 3))
    np.add.at(new_verts, cluster, verts)
    new_verts /= counts[:, None]
    new_faces = cluster[faces]
    kept = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
            & (new_faces[:, 0] != new_faces[:, 2]))
    new_faces = new_faces[kept]
    a, b, c = (new_verts[new_faces[:, k]] for k in range(3))
    face_normals = np.cross(b - a, c - a)  # length: twice the face's area
    normals = np.zeros_like(new_verts)
    for k in range(3):
        np.add.at(normals, new_faces[:, k], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return new_verts, new_faces, normals


FRAMING_MARGIN = 1.4
"""How much wider than the robot's bounding sphere the video camera frames (`iter_frames`)."""

FAST_SINGLE_SAMPLE_FROM = 360
"""`fast` frames at least this tall are drawn without multisampling. Mesa's llvmpipe draws
the Go1 at 640x480 in 4.8 s for 300 frames instead of 10.2 s, and the dog covers the same
pixels (its silhouette's intersection over union with the multisampled frame: 0.97 at
640x480, 0.96 at 480x360). Smaller frames keep it: at 160x120 a leg is two pixels wide and
breaks up without it (0.88). `tests/test_frames.py` checks that fast frames stay above 0.95."""


def drawing_model(model: mujoco.MjModel, width: int, height: int, fast: bool = False) -> mujoco.MjModel:
    """A copy of `model` made for drawing frames of `width` x `height`, never for physics.

    Meshes are simplified (`simplify_mesh`) to about one pixel of the frame at the
    distance `iter_frames` films from: the Go1's visual meshes have 206,000 faces, which
    Mesa's llvmpipe draws at 69 ms a frame even at 160x120; at a pixel's detail they have
    9,000-45,000 and the frame looks the same (`tests/test_frames.py` compares them).
    Textured meshes are kept whole. The offscreen buffer is the frame's size (the Go1
    asks for 3840x2160 with 4x multisampling), `fast` (no shadows) shrinks the unused
    shadow map and drops multisampling in large frames (`FAST_SINGLE_SAMPLE_FROM`), and
    contacts are off: `mj_forward` then only places the bodies.
    """
    drawn = copy.deepcopy(model)
    drawn.vis.global_.offwidth, drawn.vis.global_.offheight = width, height
    if fast:
        drawn.vis.quality.shadowsize = 64
        if height >= FAST_SINGLE_SAMPLE_FROM:
            drawn.vis.quality.offsamples = 0
    drawn.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    low, high = robot_bounds(drawn, initial_data(drawn))
    diameter = float(np.linalg.norm(high - low))
    cell = FRAMING_MARGIN * diameter / max(width, height)
    for mesh in range(drawn.nmesh):
        if drawn.mesh_texcoordnum[mesh] or drawn.mesh_normalnum[mesh] != drawn.mesh_vertnum[mesh]:
            continue  # texture coordinates or per-face normals: keep the mesh as it is
        vert, nvert = drawn.mesh_vertadr[mesh], drawn.mesh_vertnum[mesh]
        face, nface = drawn.mesh_faceadr[mesh], drawn.mesh_facenum[mesh]
        verts, faces, normals = simplify_mesh(drawn.mesh_vert[vert:vert + nvert].astype(np.float64),
                                              drawn.mesh_face[face:face + nface], cell)
        if len(faces) == 0:
            continue
        normal = drawn.mesh_normaladr[mesh]
        drawn.mesh_vert[vert:vert + len(verts)] = verts
        drawn.mesh_normal[normal:normal + len(normals)] = normals
        drawn.mesh_face[face:face + len(faces)] = faces
        drawn.mesh_facenormal[face:face + len(faces)] = faces
        drawn.mesh_vertnum[mesh] = drawn.mesh_normalnum[mesh] = len(verts)
        drawn.mesh_facenum[mesh] = len(faces)
    return drawn


def initial_data(model: mujoco.MjModel) -> mujoco.MjData:
    """The model at its initial pose: the "home" keyframe when it has one, else qpos0."""
    data = mujoco.MjData(model)
    if model.nkey:
        key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home")
        mujoco.mj_resetDataKeyframe(model, data, max(key, 0))
    mujoco.mj_forward(model, data)
    return data


def framing_camera(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    azimuth: float = 135.0,
    elevation: float = -20.0,
    margin: float = 1.05,
) -> mujoco.MjvCamera:
    """A free camera looking at the robot's bounding sphere, far enough to see all of it."""
    low, high = robot_bounds(model, data)
    center = (low + high) / 2
    radius = float(np.linalg.norm(high - low) / 2)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = center
    half_fov = np.deg2rad(model.vis.global_.fovy) / 2
    camera.distance = margin * max(radius, 1e-3) / np.sin(half_fov)
    camera.azimuth = azimuth
    camera.elevation = elevation
    return camera


def render_still(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    camera: mujoco.MjvCamera,
    width: int = 320,
    height: int = 240,
    hide_geoms: np.ndarray | None = None,
) -> np.ndarray:
    """One RGB frame (height, width, 3) uint8. `hide_geoms` makes those geoms invisible."""
    rgba = model.geom_rgba.copy()
    if hide_geoms is not None and len(hide_geoms):
        model.geom_rgba[hide_geoms, 3] = 0.0
    # The offscreen buffer must be at least as large as the frame.
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    try:
        with mujoco.Renderer(model, height=height, width=width) as renderer:
            renderer.update_scene(data, camera=camera)
            return renderer.render().copy()
    finally:
        model.geom_rgba[:] = rgba


def iter_frames(
    model: mujoco.MjModel,
    states: dict[str, np.ndarray],
    family: str,
    width: int = 640,
    height: int = 480,
    fast: bool = False,
) -> Iterator[np.ndarray]:
    """Frames (height, width, 3) of recorded states, one at a time, the camera following
    the robot; each frame is a view of the renderer's buffer, valid until the next.

    The camera is framed on the first state and then keeps its distance and
    angles while its look-at point follows the robot. `fast` turns off shadows
    and reflections (about 4x faster on a CPU), and multisampling from
    `FAST_SINGLE_SAMPLE_FROM` lines up. Drawn with `drawing_model`'s copy of `model`.
    """
    model = drawing_model(model, width, height, fast)
    data = mujoco.MjData(model)
    camera = None
    buffer = np.empty((height, width, 3), np.uint8)
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        for i in range(len(states["qpos"])):
            data.qpos[:], data.qvel[:] = states["qpos"][i], states["qvel"][i]
            if model.nmocap:
                data.mocap_pos[:], data.mocap_quat[:] = states["mocap_pos"][i], states["mocap_quat"][i]
            mujoco.mj_forward(model, data)
            low, high = robot_bounds(model, data)
            if camera is None:
                camera = framing_camera(model, data, azimuth=AZIMUTH_BY_FAMILY[family], margin=FRAMING_MARGIN)
                height0 = camera.lookat[2]
            # Follow in the ground plane; keep the height so a jump shows as one.
            camera.lookat[:2] = (low[:2] + high[:2]) / 2
            camera.lookat[2] = height0
            renderer.update_scene(data, camera=camera)
            if fast:
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            yield renderer.render(out=buffer)
