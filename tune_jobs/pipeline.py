"""A whole batch: train the approaches as Tune trials, then render each to video.

Used by `tabrl train` and by the Serve app's training coordinator.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from pydantic import BaseModel

from tabrl.training import Progress
from tune_jobs.batch import ProgressHandler, run_batch


class ApproachMetrics(BaseModel):
    final_reward: float | None
    train_seconds: float
    compile_seconds: float
    env_steps: int


class ApproachOutcome(BaseModel):
    name: str
    description: str = ""
    status: str  # "succeeded" | "failed"
    video: str | None = None
    checkpoint: str | None = None
    metrics: ApproachMetrics | None = None
    error: str | None = None


class JobResult(BaseModel):
    job_id: str
    model: str
    prompt: str
    approaches: list[ApproachOutcome]
    composite: str | None = None
    seconds: float


def new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def train_and_render(
    model_id: str,
    prompt: str,
    approaches: list,
    num_steps: int,
    out_dir: Path,
    *,
    job_id: str | None = None,
    base_checkpoint: Path | None = None,
    on_progress: ProgressHandler | None = None,
    on_stage=None,
    video_seconds: float = 10.0,
    fps: int = 30,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    storage_path: str | None = None,
) -> JobResult:
    """`approaches` are `tabrl.rewards.spec.Approach`s; a failed trial leaves the rest standing."""
    from tabrl.rendering import render_policy_video
    from tabrl.video import write_composite

    started = time.monotonic()
    out_dir = Path(out_dir)
    batch = run_batch(model_id, [a.reward for a in approaches], num_steps, out_dir,
                      base_checkpoint=base_checkpoint, on_progress=on_progress,
                      storage_path=storage_path, seed=seed)
    outcomes, videos, labels = [], [], []
    for approach, trial in zip(approaches, batch.trials):
        outcome = ApproachOutcome(name=approach.name, description=approach.description,
                                  status=trial.status, error=trial.error)
        if trial.result is not None:
            r = trial.result
            outcome.checkpoint = r.checkpoint
            outcome.metrics = ApproachMetrics(final_reward=r.final_reward, train_seconds=r.train_seconds,
                                              compile_seconds=r.compile_seconds, env_steps=r.env_steps)
            if on_stage:
                on_stage(f"rendering {approach.name}")
            video = out_dir / f"approach-{trial.index}" / "video.mp4"
            try:
                frames = render_policy_video(Path(r.checkpoint), video, video_seconds, fps, *size, seed=seed)
            except Exception as error:  # a trained policy without a video is still reported
                outcome.status, outcome.error = "failed", f"rendering failed: {error}"
            else:
                outcome.video = str(video)
                videos.append(frames)
                labels.append(approach.name)
        outcomes.append(outcome)
    composite = None
    if videos:
        composite = str(write_composite(out_dir / "composite.mp4", videos, labels, fps))
    return JobResult(job_id=job_id or out_dir.name, model=model_id, prompt=prompt, approaches=outcomes,
                     composite=composite, seconds=round(time.monotonic() - started, 1))


__all__ = ["ApproachOutcome", "JobResult", "Progress", "new_job_id", "train_and_render"]
