"""What a job produced: one model per level, `TrialResult` per approach and `JobResult` per job.

The job pipeline (`tune_jobs.pipeline`) makes them; `tabrl train --json` prints a
`JobResult` and `job.json` holds it; the Serve API builds its `TrialView`/`JobView`
from them. Pure pydantic (no Ray), so every side can read them. `RunRecord` is what it takes to make the
same videos again: the seed and the reset key derived from it, the video's size, fps
and length, the steps, the base checkpoint and the package versions (each trial
carries its own spec and checkpoint).
"""

from __future__ import annotations

from importlib import metadata
from typing import Literal

from pydantic import BaseModel, Field

from tabrl.behaviour import Distinctness
from tabrl.policy_report import ApproachBehaviour
from tabrl.rewards.spec import RewardSpec
from tabrl.stages import Stage

TrialStatus = Literal["succeeded", "failed", "cancelled"]
JobStatus = Literal["succeeded", "failed", "cancelled"]
VERSIONED_PACKAGES = ("tabrl", "jax", "jaxlib", "brax", "playground", "mujoco", "mujoco-mjx", "ray")


class TrialMetrics(BaseModel):
    final_reward: float | None
    train_seconds: float
    compile_seconds: float
    env_steps: int
    env_steps_per_second: float | None = None
    critic_seconds: float = 0.0
    """A base policy's critic warm-up before PPO (0: none)."""


class TrialResult(BaseModel):
    """One approach, trained (or not) and rendered (or not)."""

    name: str
    description: str = ""
    status: TrialStatus
    video: str | None = None
    checkpoint: str | None = None
    metrics: TrialMetrics | None = None
    error: str | None = None
    behaviour: ApproachBehaviour | None = None
    """What the policy did in its video, judged against its spec, beside its reference."""
    index: int = 0
    reward: RewardSpec | None = None
    """The spec this trial trained on."""


class VideoOptions(BaseModel):
    seconds: float = 10.0
    fps: int = 30
    width: int = 640
    height: int = 480
    seed: int = 0
    """The reset seed: every video of the job starts from the reset of `reset_key`."""


class RunRecord(BaseModel):
    """Everything besides the trials' specs and checkpoints needed to render the same videos again."""

    model: str
    num_steps: int
    video: VideoOptions
    reset_key: list[int] = Field(description="jax.random.split(jax.random.PRNGKey(seed))[0], "
                                             "the key every video's first state is reset from")
    base_checkpoint: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)


class JobResult(BaseModel):
    job_id: str
    model: str
    prompt: str
    approaches: list[TrialResult]
    composite: str | None = None
    seconds: float
    distinctness: Distinctness | None = None
    """How different the rendered approaches' behaviours are (two or more videos)."""
    stages: list[Stage] = []
    """Where the time went: propose, start, critic, compile, train, render, composite (`tabrl.stages`)."""
    status: JobStatus = "succeeded"
    """succeeded: at least one approach has a video; cancelled: stopped on request."""
    source: str | None = None
    """Where the approaches came from: llm, offline, fallback, or given (the request's own)."""
    warnings: list[str] = []
    run: RunRecord | None = None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def reset_key(seed: int) -> list[int]:
    """The key `tabrl.policy_rollout` resets every rollout of a job from (as two uint32s)."""
    import jax
    import numpy as np

    return [int(x) for x in np.asarray(jax.random.split(jax.random.PRNGKey(seed))[0]).ravel()]


__all__ = ["JobResult", "RunRecord", "TrialMetrics", "TrialResult", "VideoOptions", "package_versions",
           "reset_key"]
