"""Rendering MuJoCo scenes: a camera that frames the robot, and still frames.

`MUJOCO_GL` defaults to `egl` (set in `tabrl/__init__.py`): headless through
Mesa on a CPU machine, through the driver on an NVIDIA one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from pydantic import BaseModel

import mujoco

from tabrl.policy_report import ApproachBehaviour
from tabrl.stages import StageClock

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


# --- policy videos ----------------------------------------------------------------


def rollout_states(env, policy, seconds: float, fps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Roll `policy` out for `seconds` of simulated time from the reset of `seed`.

    Returns the simulator state at each video frame (frame k is the state at
    time k/fps): qpos, qvel, mocap_pos, mocap_quat, each (frames, ...). The
    same `env` and `seed` give the same first state for every policy: that is
    what makes the three videos start on an identical frame.
    """
    import jax

    from tabrl.policy_rollout import frame_steps

    n_steps, picks = frame_steps(seconds, fps, env.dt)

    def step(carry, _):
        state, key = carry
        key, act_key = jax.random.split(key)
        record = (state.data.qpos, state.data.qvel, state.data.mocap_pos, state.data.mocap_quat)
        next_state = env.step(state, policy(state.obs, act_key))
        return (next_state, key), record

    @jax.jit
    def run(key):
        reset_key, policy_key = jax.random.split(key)
        state = env.reset(reset_key)
        _, records = jax.lax.scan(step, (state, policy_key), None, length=n_steps)
        return records

    qpos, qvel, mocap_pos, mocap_quat = (np.asarray(x) for x in run(jax.random.PRNGKey(seed)))
    return {"qpos": qpos[picks], "qvel": qvel[picks], "mocap_pos": mocap_pos[picks], "mocap_quat": mocap_quat[picks]}


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
    and reflections (about 4x faster on a CPU).
    """
    data = mujoco.MjData(model)
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
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
                camera = framing_camera(model, data, azimuth=AZIMUTH_BY_FAMILY[family], margin=1.4)
                height0 = camera.lookat[2]
            # Follow in the ground plane; keep the height so a jump shows as one.
            camera.lookat[:2] = (low[:2] + high[:2]) / 2
            camera.lookat[2] = height0
            renderer.update_scene(data, camera=camera)
            if fast:
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            yield renderer.render(out=buffer)


def render_states(
    model: mujoco.MjModel,
    states: dict[str, np.ndarray],
    family: str,
    width: int = 640,
    height: int = 480,
    fast: bool = False,
) -> np.ndarray:
    """Frames (n, height, width, 3) of recorded states (see `iter_frames`)."""
    frames = np.empty((len(states["qpos"]), height, width, 3), np.uint8)
    for i, frame in enumerate(iter_frames(model, states, family, width, height, fast)):
        frames[i] = frame
    return frames


def render_policy_video(
    checkpoint,
    out,
    seconds: float = 10.0,
    fps: int = 30,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    fast: bool | None = None,
) -> np.ndarray:
    """Roll out a trained checkpoint deterministically and write an H.264 MP4.

    Every checkpoint of a model rendered with the same `seed` starts from the
    same state, so videos of a batch line up frame by frame. Returns the frames.
    """
    from tabrl.playground import family_by_model
    from tabrl.policy_rollout import checkpoint_row, mj_model, rollout_rows
    from tabrl.video import write_mp4

    row = checkpoint_row(Path(checkpoint))
    model_id = row.meta["model_id"]
    (states,) = rollout_rows(model_id, [row], seconds=seconds, fps=fps, seed=seed)
    frames = render_states(mj_model(model_id), states, family_by_model()[model_id], width, height,
                           fast=_fast(fast))
    write_mp4(out, frames, fps)
    return frames


def _fast(fast: bool | None) -> bool:
    """Shadows and reflections off on a CPU (about 4x faster), on with an accelerator."""
    if fast is not None:
        return fast
    import jax

    return jax.default_backend() == "cpu"


class RenderedVideo(BaseModel):
    index: int
    video: str | None = None
    frames: int = 0
    render_seconds: float = 0.0
    """Drawing and encoding this video (its share of the batch's rollout not included)."""
    error: str | None = None
    behaviour: ApproachBehaviour | None = None
    """What the policy did in this video, judged against its spec, beside its reference."""


def render_batch_videos(
    items: list[tuple[int, Path, str]],
    out_dir: Path,
    *,
    seconds: float = 10.0,
    fps: int = 30,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    on_stage: Callable[[str], None] | None = None,
    measure: bool = True,
    clock: StageClock | None = None,
) -> tuple[list[RenderedVideo], Path | None]:
    """Render `(index, checkpoint, label)` items (checkpoints of one model) to
    `out_dir/approach-<index>/video.mp4` and a labelled side-by-side `out_dir/composite.mp4`.

    One batched rollout (`tabrl.policy_rollout`) from one reset key serves every
    checkpoint and, with `measure`, each one's reference (the base policy under the
    same command, or zero actions); the videos are then drawn in parallel processes
    (`tabrl.drawing`). Each video carries its behaviour report. A checkpoint that
    fails to load or draw is reported with its error; the others still render.
    `clock` gets the "render" (rollout, drawing, measuring) and "composite" stages.
    """
    from tabrl.drawing import draw_videos
    from tabrl.playground import family_by_model
    from tabrl.policy_report import approach_behaviour, reference_rows
    from tabrl.policy_rollout import checkpoint_row, mj_model, rollout_rows
    from tabrl.rewards.spec import RewardSpec
    from tabrl.video import write_composite

    out_dir = Path(out_dir)
    clock = clock if clock is not None else StageClock()
    started = time.monotonic()
    rendered: dict[int, RenderedVideo] = {}
    videos, labels = [], []
    loaded = []  # (index, label, row)
    for index, checkpoint, label in items:
        try:
            loaded.append((index, label, checkpoint_row(Path(checkpoint))))
        except Exception as error:  # a trained policy without a video is still reported
            rendered[index] = RenderedVideo(index=index, error=f"rendering failed: {error}")
    if loaded:
        model_id = loaded[0][2].meta["model_id"]
        family = family_by_model()[model_id]
        rows = [row for _, _, row in loaded]
        references, kind = reference_rows(model_id, rows) if measure else ([], None)
        if on_stage:
            on_stage(f"rolling out {len(rows)} policies")
        states = rollout_rows(model_id, rows + references, seconds=seconds, fps=fps, seed=seed)
        if on_stage:
            on_stage(f"drawing {len(rows)} videos")
        model = mj_model(model_id)
        paths = [out_dir / f"approach-{index}" / "video.mp4" for index, _, _ in loaded]
        drawn = draw_videos(model, family, states[: len(rows)], paths, fps=fps, width=size[0],
                            height=size[1], fast=_fast(None))
        for k, ((index, label, row), path, (frames, took, error)) in enumerate(zip(loaded, paths, drawn)):
            if error:
                rendered[index] = RenderedVideo(index=index, error=f"rendering failed: {error}")
                continue
            behaviour = None
            if measure:
                spec = RewardSpec.model_validate(row.meta["reward"]) if row.meta.get("reward") else None
                behaviour = approach_behaviour(model, states[k], fps, family, spec,
                                               reference_states=states[len(rows) + k], reference_policy=kind)
            rendered[index] = RenderedVideo(index=index, video=str(path), frames=len(frames),
                                            render_seconds=round(took, 2), behaviour=behaviour)
            videos.append(frames)
            labels.append(label)
    clock.add("render", time.monotonic() - started)
    with clock.stage("composite"):
        composite = write_composite(out_dir / "composite.mp4", videos, labels, fps) if videos else None
    return [rendered[index] for index, _, _ in items], composite
