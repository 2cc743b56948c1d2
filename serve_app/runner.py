"""One batch job, start to end: propose (when no approaches were given), train, render.

`run_job` runs as a Ray task started by the training coordinator, so the API
never blocks on it. It drives Tune from that task and writes every step of the
way into the job store: per-trial progress from Tune's callback, each trial's
outcome, the measured throughput (for later estimates), the videos.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from serve_app.schemas import JobView, TrialView
from serve_app.settings import ServeSettings
from serve_app.store import JobStore, Measurement
from tabrl.errors import error_line

log = logging.getLogger("tabrl.serve")
CURVE_POINTS = 200


def job_dir(settings: ServeSettings, job_id: str) -> Path:
    return settings.jobs_dir / job_id


def trial_checkpoint(settings: ServeSettings, job_id: str, index: int) -> Path:
    """Where a trial's trained checkpoint lives (`tune_jobs.batch` writes it there)."""
    return job_dir(settings, job_id) / f"approach-{index}" / "checkpoint"


def _stage(store: JobStore, job_id: str, status: str, stage: str) -> JobView:
    def change(job: JobView) -> None:
        job.status, job.stage = status, stage
    return store.update(job_id, change)


def _propose(store: JobStore, job: JobView, proposer) -> JobView:
    _stage(store, job.job_id, "proposing", "proposing three reward approaches")
    proposal = proposer.propose.remote(job.model_id, job.prompt).result()

    def change(view: JobView) -> None:
        view.source, view.warnings = proposal["source"], proposal["warnings"]
        view.trials = [
            TrialView(index=i, name=a["name"], description=a["description"], status="pending",
                      num_steps=view.num_steps, fraction=0.0, reward=a["reward"])
            for i, a in enumerate(proposal["approaches"])
        ]
    return store.update(job.job_id, change)


def _on_progress(store: JobStore, job_id: str):
    def handle(index: int, progress) -> None:
        def change(job: JobView) -> None:
            trial = job.trials[index]
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
        store.update(job_id, change)
    return handle


def run_job(job_id: str, settings: ServeSettings, proposer, renderer) -> str:
    """Run one job to a terminal status; returns that status. Never raises for a job's own failure."""
    from tabrl.catalog import base_policy_dir
    from tabrl.policy_report import ApproachBehaviour, batch_distinctness
    from tabrl.stages import Stage, StageClock
    from tabrl.rewards.spec import RewardSpec
    from tabrl.training import scaled_ppo_config
    from tune_jobs.batch import ensure_ray, run_batch

    store = JobStore(settings.job_store)
    job = store.get(job_id)

    def started(view: JobView) -> None:
        view.started_at = time.time()
    store.update(job_id, started)
    try:
        clock = StageClock()
        if not job.trials:
            with clock.stage("propose"):
                job = _propose(store, job, proposer)
        ensure_ray()
        import ray

        accelerator = ray.cluster_resources().get("GPU", 0) >= 1
        if job.evolved_from is not None:  # the variants start from the favourite's own checkpoint
            base = trial_checkpoint(settings, job.evolved_from.job_id, job.evolved_from.approach)
        else:
            base = base_policy_dir(job.model_id) if job.use_base_policy else None

        def mark_training(view: JobView) -> None:
            view.status, view.stage = "training", f"training {len(view.trials)} approaches in parallel"
            view.base_policy = base is not None
            for trial in view.trials:
                trial.status = "running"
        store.update(job_id, mark_training)
        out = job_dir(settings, job_id)
        batch_started = time.monotonic()
        batch = run_batch(
            job.model_id, [RewardSpec.model_validate(t.reward) for t in job.trials], job.num_steps, out,
            base_checkpoint=base, on_progress=_on_progress(store, job_id),
            storage_path=settings.tune_storage, seed=job.render.seed,
        )
        num_envs = scaled_ppo_config(job.model_id, job.num_steps, accelerator=accelerator).num_envs
        clock.add_batch(time.monotonic() - batch_started, [o.result for o in batch.trials])

        def trained(view: JobView) -> None:
            for outcome in batch.trials:
                trial = view.trials[outcome.index]
                trial.status, trial.error = outcome.status, outcome.error
                if outcome.result is not None:
                    r = outcome.result
                    trial.env_steps, trial.fraction, trial.eta_seconds = r.env_steps, 1.0, 0.0
                    trial.episode_reward = r.final_reward
                    trial.compile_seconds, trial.train_seconds = r.compile_seconds, r.train_seconds
                    trial.env_steps_per_second = r.env_steps_per_second
                    trial.policy_id = f"{job_id}-{outcome.index}"
            view.status, view.stage = "rendering", "rendering the videos"
            view.stages = list(clock.stages)
        job = store.update(job_id, trained)
        items = [(o.index, o.result.checkpoint, job.trials[o.index].name) for o in batch.trials if o.result]
        rendered = renderer.render_batch.remote(str(out), items, job.render.model_dump()).result() if items else {
            "videos": [], "composite": None}
        renders = {v["index"]: v for v in rendered["videos"]}
        render_stage = round(sum(s["seconds"] for s in rendered.get("stages", [])), 2)
        for o in batch.trials:
            if o.result and o.result.env_steps_per_second:
                store.record(Measurement(
                    model_id=job.model_id, num_envs=num_envs, accelerator=accelerator,
                    env_steps_per_second=o.result.env_steps_per_second,
                    compile_seconds=o.result.compile_seconds,
                    # the whole render stage (one rollout, the videos drawn at once, the composite)
                    render_seconds=render_stage if o.index in renders else None,
                ))

        def finished(view: JobView) -> None:
            for index, video in renders.items():
                trial = view.trials[index]
                if video.get("error"):
                    trial.status, trial.error = "failed", video["error"]
                else:
                    trial.video_url = f"/api/training/jobs/{job_id}/videos/{index}"
                    if video.get("behaviour"):
                        trial.behaviour = ApproachBehaviour.model_validate(video["behaviour"])
            view.distinctness = batch_distinctness([t.behaviour for t in view.trials])
            view.stages = clock.stages + [Stage.model_validate(s) for s in rendered.get("stages", [])]
            if rendered["composite"]:
                view.composite_url = f"/api/training/jobs/{job_id}/composite"
            succeeded = [t for t in view.trials if t.status == "succeeded"]
            view.status = "succeeded" if succeeded else "failed"
            view.stage = f"done: {len(succeeded)} of {len(view.trials)} approaches succeeded"
            if not succeeded:
                view.error = "every approach failed: " + "; ".join(t.error or "?" for t in view.trials)
            view.finished_at = time.time()
        return store.update(job_id, finished).status
    except Exception as error:  # the job fails, the server goes on
        log.exception("job %s failed", job_id)
        message = error_line(error)

        def failed(view: JobView) -> None:
            view.status, view.stage, view.error = "failed", "failed", message
            view.finished_at = time.time()
            for trial in view.trials:
                if trial.status in ("pending", "running"):
                    trial.status = "failed"
        return store.update(job_id, failed).status
