"""One API job through the job pipeline (`tune_jobs.pipeline.run_job`), written into the job store.

`run_job` runs as a Ray task started by the training coordinator, so the API never
blocks on it. It is an adapter: the pipeline proposes through the Proposer deployment,
renders through the Renderer deployment, and its events become job-store updates
(stage changes, per-trial progress, the trained trials, the videos); the trials' Tune
stopper reads the store's cancel requests. A job a restart cut off runs again with
`resume`: Tune restores its trials from their last snapshots.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from serve_app.schemas import JobView, TrialView
from serve_app.settings import ServeSettings
from serve_app.store import JobStore, Measurement, mark_cancelled
from tabrl.errors import error_line

log = logging.getLogger("tabrl.serve")
CURVE_POINTS = 200


def _store_events(store: JobStore, job_id: str):
    """The pipeline's events as job-store updates (built here so the pipeline is imported in the task)."""
    from tune_jobs.pipeline import JobEvents

    class StoreEvents(JobEvents):
        def _update(self, change) -> JobView:
            return store.update(job_id, change)

        def stage(self, status: str, words: str) -> None:
            def change(view: JobView) -> None:
                view.status, view.stage = status, words
                if status == "training":
                    for trial in view.trials:
                        if trial.status == "pending":
                            trial.status = "running"
            self._update(change)

        def proposed(self, proposal) -> None:
            def change(view: JobView) -> None:
                view.source, view.warnings = proposal.source, list(proposal.warnings)
                view.trials = [
                    TrialView(index=i, name=a.name, description=a.description, status="pending",
                              num_steps=view.num_steps, fraction=0.0, reward=a.reward.model_dump(mode="json"))
                    for i, a in enumerate(proposal.approaches)
                ]
            self._update(change)

        def progress(self, index: int, progress) -> None:
            def change(view: JobView) -> None:
                trial = view.trials[index]
                trial.status = "running"
                trial.env_steps = progress.env_steps
                trial.fraction = min(1.0, progress.env_steps / max(1, trial.num_steps))
                trial.episode_reward = progress.episode_reward
                trial.terms = progress.terms
                trial.env_steps_per_second = progress.env_steps_per_second
                if progress.env_steps_per_second:
                    left = max(0, trial.num_steps - progress.env_steps)
                    trial.eta_seconds = round(left / progress.env_steps_per_second, 1)
                trial.reward_curve = (trial.reward_curve + [
                    {"env_steps": progress.env_steps, "episode_reward": progress.episode_reward}
                ])[-CURVE_POINTS:]
            self._update(change)

        def trained(self, trials, stages) -> None:
            def change(view: JobView) -> None:
                for result in trials:
                    view.trials[result.index].take_result(result, job_id)
                view.stages = list(stages)
            self._update(change)

        def cancelled(self) -> bool:
            return store.cancel_requested(job_id)

    return StoreEvents()


def run_job(job_id: str, settings: ServeSettings, proposer, renderer) -> str:
    """Run one job to a terminal status; returns that status. Never raises for a job's own failure."""
    from tabrl.catalog import base_policy_dir
    from tabrl.job_results import VideoOptions
    from tabrl.rewards.spec import Approach, Proposal, RewardSpec
    from tabrl.training import scaled_ppo_config
    from tune_jobs.batch import ensure_ray
    from tune_jobs.pipeline import JobRequest, run_job as run_pipeline

    store = JobStore(settings.job_store)
    job = store.get(job_id)

    def started(view: JobView) -> None:
        view.started_at = view.started_at or time.time()
    store.update(job_id, started)
    try:
        ensure_ray()
        import ray

        accelerator = ray.cluster_resources().get("GPU", 0) >= 1
        if job.evolved_from is not None:  # the variants start from the favourite's own checkpoint
            base = settings.job(job.evolved_from.job_id).checkpoint(job.evolved_from.approach)
        else:
            base = base_policy_dir(job.model_id) if job.use_base_policy else None

        def mark_base(view: JobView) -> None:
            view.base_policy = base is not None
        store.update(job_id, mark_base)

        def propose(model_id: str, prompt: str) -> Proposal:
            return Proposal.model_validate(proposer.propose.remote(model_id, prompt).result())

        def render(out_dir: Path, items, video: VideoOptions):
            from tabrl.rendering import RenderedVideo
            from tabrl.stages import Stage

            answer = renderer.render_batch.remote(str(out_dir), [(i, str(c), label) for i, c, label in items],
                                                  video.model_dump()).result()
            return ([RenderedVideo.model_validate(v) for v in answer["videos"]],
                    Path(answer["composite"]) if answer["composite"] else None,
                    [Stage.model_validate(s) for s in answer.get("stages", [])])

        layout = settings.job(job_id)
        approaches = [Approach(name=t.name, description=t.description, reward=RewardSpec.model_validate(t.reward))
                      for t in job.trials] or None
        request = JobRequest(
            job_id=job_id, model=job.model_id, prompt=job.prompt, num_steps=job.num_steps, out_dir=layout.root,
            approaches=approaches, source=job.source, base_checkpoint=base,
            video=VideoOptions.model_validate(job.render.model_dump()), storage_path=settings.tune_storage,
            snapshot_every_s=settings.snapshot_seconds, resume=True, warm_workers=settings.warm_workers,
        )
        result = run_pipeline(request, propose=propose, render=render, events=_store_events(store, job_id))

        num_envs = scaled_ppo_config(job.model_id, job.num_steps, accelerator=accelerator).num_envs
        render_seconds = round(sum(s.seconds for s in result.stages if s.name in ("render", "composite")), 2)
        # a job's start, as the estimate adds it: Ray, the trial processes and a base's critic warm-up
        start_seconds = sum(s.seconds for s in result.stages if s.name in ("start", "critic")) or None
        for trial in result.approaches:
            if trial.metrics and trial.metrics.env_steps_per_second:
                store.record(Measurement(
                    model_id=job.model_id, num_envs=num_envs, accelerator=accelerator,
                    env_steps_per_second=trial.metrics.env_steps_per_second,
                    compile_seconds=trial.metrics.compile_seconds,
                    # the whole render stage (one rollout, the videos drawn at once, the composite)
                    render_seconds=render_seconds if trial.video else None,
                    start_seconds=start_seconds,
                ))

        def finished(view: JobView) -> None:
            for trial in result.approaches:
                view.trials[trial.index].take_result(trial, job_id)
            view.stages = list(result.stages)
            if result.status == "cancelled":
                mark_cancelled(view)
                return
            view.distinctness = result.distinctness
            if result.composite:
                view.composite_url = f"/api/training/jobs/{job_id}/composite"
            succeeded = [t for t in view.trials if t.status == "succeeded"]
            view.status = result.status
            view.stage = f"done: {len(succeeded)} of {len(view.trials)} approaches succeeded"
            if not succeeded:
                view.error = "every approach failed: " + "; ".join(t.error or "?" for t in view.trials)
            view.finished_at = time.time()
        return store.update(job_id, finished).status
    except Exception as error:  # the job fails, the server goes on
        log.exception("job %s failed", job_id)
        message = error_line(error)
        if store.cancel_requested(job_id):  # it was being stopped anyway
            return store.update(job_id, mark_cancelled).status

        def failed(view: JobView) -> None:
            view.status, view.stage, view.error = "failed", "failed", message
            view.finished_at = time.time()
            for trial in view.trials:
                if trial.status in ("pending", "running"):
                    trial.status = "failed"
        return store.update(job_id, failed).status
