"""Policy videos: roll a checkpoint out from a seeded reset, draw it (`tabrl.frames`), encode it.

`MUJOCO_GL` defaults to `egl` (set in `tabrl/__init__.py`): headless through
Mesa on a CPU machine, through the driver on an NVIDIA one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

import mujoco

from tabrl.frames import iter_frames
from tabrl.job_layout import JobLayout
from tabrl.policy_report import ApproachBehaviour
from tabrl.stages import StageClock

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


def render_states(model: mujoco.MjModel, states: dict[str, np.ndarray], family: str, **options) -> np.ndarray:
    """Frames (n, height, width, 3) of recorded states; `options` as `tabrl.frames.iter_frames`'s."""
    return np.stack([frame.copy() for frame in iter_frames(model, states, family, **options)])


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
    frames = render_states(mj_model(model_id), states, family_by_model()[model_id], width=width, height=height,
                           fast=_fast(fast))
    write_mp4(out, frames, fps)
    return frames


def _fast(fast: bool | None) -> bool:
    """Shadows and reflections off on a CPU (about 4x faster; `tabrl.frames.drawing_model`), on
    with an accelerator."""
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
    each one's video and a labelled side-by-side composite in the job folder `out_dir`
    (`tabrl.job_layout`).

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

    layout = JobLayout(Path(out_dir))
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
        paths = [layout.video(index) for index, _, _ in loaded]
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
        composite = write_composite(layout.composite, videos, labels, fps) if videos else None
    return [rendered[index] for index, _, _ in items], composite
