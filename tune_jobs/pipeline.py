"""A whole batch: train the approaches as Tune trials, then render each to video and measure it.

The result (`JobResult`, also written to `out_dir/job.json`) carries each approach's
behaviour report and how distinct the three are.

Used by `tabrl train` and by the Serve app's training coordinator.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from pydantic import BaseModel

from tabrl.behaviour import Distinctness
from tabrl.policy_report import ApproachBehaviour, batch_distinctness
from tabrl.stages import Stage, StageClock
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
    behaviour: ApproachBehaviour | None = None
    """What the policy did in its video, judged against its spec, beside its reference."""


class JobResult(BaseModel):
    job_id: str
    model: str
    prompt: str
    approaches: list[ApproachOutcome]
    composite: str | None = None
    seconds: float
    distinctness: Distinctness | None = None
    """How different the rendered approaches' behaviours are (two or more videos)."""
    stages: list[Stage] = []
    """Where the time went: start, propose, compile, train, render, composite (`tabrl.stages`)."""


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
    clock: StageClock | None = None,
) -> JobResult:
    """`approaches` are `tabrl.rewards.spec.Approach`s; a failed trial leaves the rest standing.
    `clock` may hold the stages before this call (the proposal); the result carries them all."""
    from tabrl.rendering import render_batch_videos

    started = time.monotonic()
    clock = clock if clock is not None else StageClock()
    out_dir = Path(out_dir)
    batch = run_batch(model_id, [a.reward for a in approaches], num_steps, out_dir,
                      base_checkpoint=base_checkpoint, on_progress=on_progress,
                      storage_path=storage_path, seed=seed)
    clock.add_batch(time.monotonic() - started, [t.result for t in batch.trials])
    outcomes = []
    for approach, trial in zip(approaches, batch.trials):
        outcome = ApproachOutcome(name=approach.name, description=approach.description,
                                  status=trial.status, error=trial.error)
        if trial.result is not None:
            r = trial.result
            outcome.checkpoint = r.checkpoint
            outcome.metrics = ApproachMetrics(final_reward=r.final_reward, train_seconds=r.train_seconds,
                                              compile_seconds=r.compile_seconds, env_steps=r.env_steps)
        outcomes.append(outcome)
    items = [(trial.index, Path(trial.result.checkpoint), approach.name)
             for approach, trial in zip(approaches, batch.trials) if trial.result is not None]
    videos, composite = render_batch_videos(items, out_dir, seconds=video_seconds, fps=fps, size=size,
                                            seed=seed, on_stage=on_stage, clock=clock)
    for video in videos:
        outcome = outcomes[video.index]
        outcome.video, outcome.behaviour = video.video, video.behaviour
        if video.error:
            outcome.status, outcome.error = "failed", video.error
    result = JobResult(
        job_id=job_id or out_dir.name, model=model_id, prompt=prompt, approaches=outcomes,
        composite=str(composite) if composite else None, seconds=round(time.monotonic() - started, 1),
        distinctness=batch_distinctness([o.behaviour for o in outcomes]), stages=clock.stages,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "job.json").write_text(result.model_dump_json(indent=1) + "\n")
    return result


__all__ = ["ApproachOutcome", "JobResult", "Progress", "new_job_id", "train_and_render"]
