"""One job, start to end: propose (unless the approaches are given), train them as Tune
trials, render each to video and measure it, write `job.json`.

The only owner of that sequence: `tabrl train`, the Serve API's job runner and the demo
maker all call `run_job`. Whoever calls it chooses how proposing and rendering happen
(`propose`, `render`: in this process by default; the Serve runner passes its
deployments) and hears what happens through `JobEvents` (stage changes, the proposal,
per-trial progress, the trained trials), which is also where a cancel request is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from tabrl.job_layout import JobLayout
from tabrl.job_results import JobResult, RunRecord, TrialResult, VideoOptions, package_versions, reset_key
from tabrl.policy_report import batch_distinctness
from tabrl.rendering import RenderedVideo
from tabrl.rewards.spec import Approach, Proposal
from tabrl.stages import Stage, StageClock
from tabrl.training import Progress
from tune_jobs.batch import run_batch

Rendered = tuple[list[RenderedVideo], Path | None, list[Stage]]
ProposeFn = Callable[[str, str], Proposal]
RenderFn = Callable[[Path, list[tuple[int, Path, str]], VideoOptions], Rendered]


class JobRequest(BaseModel):
    job_id: str
    model: str
    prompt: str
    num_steps: int
    out_dir: Path
    approaches: list[Approach] | None = None
    """None: `propose` reads the prompt."""
    source: str | None = None
    """Where given approaches came from (the proposal's own source otherwise)."""
    base_checkpoint: Path | None = None
    video: VideoOptions = VideoOptions()
    storage_path: str | None = None
    snapshot_every_s: float | None = None
    """Trials hand Tune a resumable snapshot this often (None: never)."""
    resume: bool = False
    """Continue this job's earlier Tuner run (a server restart cut it off)."""
    warm_workers: bool = False
    """Train in long-lived workers that later jobs reuse (`tune_jobs.workers`: where Ray outlives the job)."""


class JobEvents:
    """What a running job tells its caller; each a no-op here, overridden by adapters."""

    def stage(self, status: str, words: str) -> None:
        """status: proposing, training or rendering; words: what is happening."""

    def proposed(self, proposal: Proposal) -> None:
        """The three approaches `propose` gave (not called when they came with the request)."""

    def progress(self, index: int, progress: Progress) -> None:
        """Trial `index` finished a PPO epoch."""

    def trained(self, trials: list[TrialResult], stages: list[Stage]) -> None:
        """Every trial ended (succeeded, failed or cancelled); rendering comes next."""

    def cancelled(self) -> bool:
        """Read between reports: True stops the running trials and the job."""
        return False


def propose_here(model_id: str, prompt: str) -> Proposal:
    from tabrl.rewards import propose

    return propose(model_id, prompt)


def render_here(out_dir: Path, items: list[tuple[int, Path, str]], video: VideoOptions) -> Rendered:
    from tabrl.rendering import render_batch_videos

    clock = StageClock()
    videos, composite = render_batch_videos(items, out_dir, seconds=video.seconds, fps=video.fps,
                                            size=(video.width, video.height), seed=video.seed, clock=clock)
    return videos, composite, clock.stages


def run_job(request: JobRequest, *, propose: ProposeFn | None = None, render: RenderFn | None = None,
            events: JobEvents | None = None) -> JobResult:
    """Run one job to its result (also written to `job.json`); a failed trial leaves the rest
    standing, a cancel ends it `cancelled` without rendering. Raises only for the job's own
    failure (the proposer or the renderer broke)."""
    events = events or JobEvents()
    layout = JobLayout(request.out_dir)
    clock = StageClock()
    approaches, source, warnings, prompt = request.approaches, request.source, [], request.prompt
    if approaches is None:
        events.stage("proposing", "proposing three reward approaches")
        with clock.stage("propose"):
            proposal = (propose or propose_here)(request.model, request.prompt)
        events.proposed(proposal)
        approaches, source, warnings = proposal.approaches, proposal.source, list(proposal.warnings)
        prompt = proposal.prompt  # as the proposer cleaned it
    started = time.monotonic()
    run = RunRecord(model=request.model, num_steps=request.num_steps, video=request.video,
                    reset_key=reset_key(request.video.seed), versions=package_versions(),
                    base_checkpoint=str(request.base_checkpoint) if request.base_checkpoint else None)

    def result(trials: list[TrialResult], status: str, composite: Path | None = None) -> JobResult:
        job = JobResult(
            job_id=request.job_id, model=request.model, prompt=prompt, approaches=trials,
            composite=str(composite) if composite else None, seconds=round(time.monotonic() - started, 1),
            distinctness=batch_distinctness([t.behaviour for t in trials]), stages=clock.stages,
            status=status, source=source, warnings=warnings, run=run,
        )
        layout.root.mkdir(parents=True, exist_ok=True)
        layout.record.write_text(job.model_dump_json(indent=1) + "\n")
        return job

    if events.cancelled():
        return result([TrialResult(index=i, name=a.name, description=a.description, reward=a.reward,
                                   status="cancelled", error="cancelled") for i, a in enumerate(approaches)],
                      "cancelled")
    events.stage("training", f"training {len(approaches)} approaches in parallel")
    trials = run_batch(request.model, approaches, request.num_steps, layout.root,
                       base_checkpoint=request.base_checkpoint, on_progress=events.progress,
                       storage_path=request.storage_path, seed=request.video.seed, cancelled=events.cancelled,
                       snapshot_every_s=request.snapshot_every_s, resume=request.resume,
                       warm_workers=request.warm_workers)
    clock.add_batch(time.monotonic() - started, [t.metrics for t in trials])
    events.trained(trials, list(clock.stages))
    if events.cancelled():
        return result(trials, "cancelled")
    events.stage("rendering", "rendering the videos")
    items = [(t.index, Path(t.checkpoint), t.name) for t in trials if t.checkpoint]
    videos, composite, stages = (render or render_here)(layout.root, items, request.video) if items else ([], None, [])
    clock.stages.extend(stages)
    for video in videos:
        trial = trials[video.index]
        trial.video, trial.behaviour = video.video, video.behaviour
        if video.error:
            trial.status, trial.error = "failed", video.error
    status = "succeeded" if any(t.status == "succeeded" for t in trials) else "failed"
    return result(trials, status, composite)


__all__ = ["JobEvents", "JobRequest", "JobResult", "Progress", "TrialResult", "propose_here", "render_here",
           "run_job"]
