"""One Tuner run per batch: three trials, one per approach, running concurrently.

Each trial reports its metrics to Tune once per PPO epoch (`tune.report`); a
driver-side Tune callback forwards them to whoever asked (the CLI's progress
bars, the Serve app's job store). A trial that raises fails alone: Tune keeps
the others running (`fail_fast=False`, no retries), and its error is in the
outcome.

Cancelling: `cancelled`, a callable, is read by a `tune.Stopper` between reports;
once it says yes every running trial stops, and those that had finished keep their
checkpoints. Resuming: with `snapshot_every_s`, each trial hands Tune a complete
snapshot of its training every so often (`tune.report(..., checkpoint=...)`); a
batch started again with `resume=True` restores the Tuner run from its storage
(`tune.Tuner.restore`), and each unfinished trial continues from its last snapshot
(`tune.get_checkpoint()` -> `train_approach(resume_from=...)`).
"""

from __future__ import annotations

import math

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import tune

from tabrl.errors import error_line
from tabrl.job_layout import TUNE_EXPERIMENT, JobLayout
from tabrl.rewards.spec import Approach
from tabrl.settings import compile_cache_dir
from tabrl.training import Progress, TrainResult
from tabrl.job_results import TrialMetrics, TrialResult
from tune_jobs.workers import uses_workers

ProgressHandler = Callable[[int, Progress], None]


def ensure_ray(address: str | None = None, attempts: int = 3) -> None:
    """Connect to `RAY_ADDRESS` (or `address`) when given, else start an embedded local Ray.

    Ray gives a new local node a fixed time to come up; on a loaded 2-core
    machine that can run out, so a local start is tried `attempts` times.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False, ignore_reinit_error=True)
            return
        except Exception as error:  # Ray raises plain Exception/RuntimeError for start-up timeouts
            if address or attempt == attempts or "timed out" not in str(error).lower():
                raise
            ray.shutdown()


def default_resources(n_trials: int) -> dict[str, float]:
    """What each trial asks Ray for, on this cluster (see `trial_resources`)."""
    return trial_resources(ray.cluster_resources(), n_trials, gpus_per_trial())


def gpus_per_trial(environ: dict[str, str] | None = None) -> float | None:
    """`TABRL_GPUS_PER_TRIAL`: None when unset; 0 (CPU only), a fraction in (0, 1]
    (0.33 packs three trials on one GPU), or a whole number of GPUs."""
    text = (os.environ if environ is None else environ).get("TABRL_GPUS_PER_TRIAL", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 <= value <= 1 or (value > 1 and value.is_integer())):
        raise ValueError(f"TABRL_GPUS_PER_TRIAL must be 0, a fraction up to 1 or a whole number, not {text!r}")
    return value


def trial_resources(cluster: dict[str, float], n_trials: int, gpus: float | None = None) -> dict[str, float]:
    """One trial's resources. `gpus` set (TABRL_GPUS_PER_TRIAL): that many GPUs and
    one CPU, even while the cluster has no GPU node yet (the autoscaler starts one);
    0 means CPU only. Unset: one GPU where the cluster has GPUs, else an equal share
    of the CPUs."""
    if gpus is None:
        gpus = 1.0 if cluster.get("GPU", 0) >= 1 else 0.0
    if gpus > 0:
        return {"cpu": 1, "gpu": gpus}
    # Rounded down: three trials of round(2 / 3, 2) = 0.67 CPU ask for 2.01 of 2 CPUs, and Ray
    # then runs the third only after another has finished.
    return {"cpu": max(0.1, math.floor(cluster.get("CPU", 1) / n_trials * 100) / 100)}


def _train_trial(config: dict[str, Any], approaches=None, settings=None) -> None:
    """The Tune trainable (runs in a Ray worker; with `warm_workers`, it relays a warm worker's training)."""
    from contextlib import nullcontext

    from tabrl.training import train_approach

    index = config["index"]
    layout = JobLayout(Path(settings["out_dir"]))

    def report(progress: Progress) -> None:
        tune.report({"progress": progress.model_dump(mode="json"), "env_steps": progress.env_steps,
                     "episode_reward": progress.episode_reward})

    def snapshot(env_steps: int, path: Path | str) -> None:
        tune.report({"env_steps": env_steps, "snapshot": env_steps},
                    checkpoint=tune.Checkpoint.from_directory(str(path)))

    snapshots, on_snapshot = {}, None
    if settings.get("snapshot_every_s") is not None:
        snapshots = {"snapshot_dir": layout.snapshots(index), "snapshot_every_s": settings["snapshot_every_s"]}
        on_snapshot = snapshot
    restored = tune.get_checkpoint()
    with (restored.as_directory() if restored is not None else nullcontext(None)) as resume_from:
        if resume_from is not None:
            snapshots["resume_from"] = Path(resume_from)
        kwargs = dict(
            model_id=settings["model_id"], spec=approaches[index].reward,
            num_steps=settings["num_steps"],
            out_dir=layout.checkpoint(index),
            base_checkpoint=Path(settings["base_checkpoint"]) if settings.get("base_checkpoint") else None,
            seed=settings.get("seed", 0),
            compile_cache=Path(settings["compile_cache"]),
            **snapshots,
        )
        if settings.get("warm_workers"):
            from tune_jobs.workers import train_in_worker

            result = train_in_worker(index, kwargs, on_progress=report, on_snapshot=on_snapshot)
        else:
            result = train_approach(**kwargs, progress=report, snapshot=on_snapshot)
    tune.report({"result": result.model_dump(mode="json"), "env_steps": result.env_steps, "done": True})


# Tune pickles its callbacks and stopper with the run (tuner.pkl) and brings those copies back
# on a restore; they hold only a key and find the live handlers here, registered by `run_batch`.
_HANDLERS: dict[str, ProgressHandler | None] = {}
_CANCELLED: dict[str, Callable[[], bool] | None] = {}


class _ForwardProgress(tune.Callback):
    def __init__(self, key: str):
        self.key = key

    def on_trial_result(self, iteration, trials, trial, result, **info):
        handler = _HANDLERS.get(self.key)
        if handler is not None and "progress" in result:
            handler(trial.config["index"], Progress.model_validate(result["progress"]))


class _CancelStopper(tune.Stopper):
    """Stops every trial once the batch's `cancelled()` says so (checked between reports)."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, trial_id, result) -> bool:
        return False

    def stop_all(self) -> bool:
        cancelled = _CANCELLED.get(self.key)
        return bool(cancelled is not None and cancelled())


def tune_experiment(layout: JobLayout, storage_path: str | None = None) -> str:
    """Where the batch's Tuner run lives (what `tune.Tuner.restore` reads)."""
    return f"{(storage_path or str(layout.tune)).rstrip('/')}/{TUNE_EXPERIMENT}"


def run_batch(
    model_id: str,
    approaches: list[Approach],
    num_steps: int,
    out_dir: Path,
    *,
    base_checkpoint: Path | None = None,
    on_progress: ProgressHandler | None = None,
    resources_per_trial: dict[str, float] | None = None,
    storage_path: str | None = None,
    compile_cache: Path | None = None,
    seed: int = 0,
    cancelled: Callable[[], bool] | None = None,
    snapshot_every_s: float | None = None,
    resume: bool = False,
    warm_workers: bool = False,
) -> list[TrialResult]:
    """Train every approach as a concurrent Tune trial; never raises for a failed trial.

    `out_dir` is the job's folder (`tabrl.job_layout`). `storage_path` is where Tune
    keeps its results: a folder (default: the job's `tune/`) or `s3://...` / `gs://...`
    on a cluster. `compile_cache` is the folder of JAX's persistent compilation cache
    and TabRL's executable store, shared by the trials and by later batches (default:
    `tabrl.settings.compile_cache_dir()`): the approaches of a batch share one training
    program, compiled by the first trial while the others wait and then loaded
    ready-made. `resume`: continue the batch's earlier Tuner run when its storage has one.
    `warm_workers`: the trials train in long-lived processes that later batches reuse
    (`tune_jobs.workers`; what `tabrl serve` asks for: there Ray outlives the jobs); not for
    trials that ask for a GPU.
    The results carry status, checkpoint, metrics or error; video and behaviour are the
    pipeline's to fill in.
    """
    # Tune's automatic CSV/JSON/TensorBoard loggers would choke on the nested
    # progress history; TabRL's record is the checkpoint's config.json.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    ensure_ray()
    layout = JobLayout(Path(out_dir).resolve())
    layout.root.mkdir(parents=True, exist_ok=True)
    settings = {
        "model_id": model_id,
        "num_steps": num_steps,
        "out_dir": str(layout.root),
        "base_checkpoint": str(base_checkpoint) if base_checkpoint else None,
        "compile_cache": str(compile_cache or compile_cache_dir()),
        "seed": seed,
        "snapshot_every_s": snapshot_every_s,
    }
    # The approaches travel pickled through Ray's object store, typed, exactly as given.
    resources = resources_per_trial or default_resources(len(approaches))
    settings["warm_workers"] = warm_workers and uses_workers(resources)
    trainable = tune.with_parameters(_train_trial, approaches=list(approaches), settings=settings)
    trainable = tune.with_resources(trainable, resources)
    key = str(layout.root)
    _HANDLERS[key], _CANCELLED[key] = on_progress, cancelled
    experiment = tune_experiment(layout, storage_path)
    if resume and tune.Tuner.can_restore(experiment):
        tuner = tune.Tuner.restore(experiment, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(list(range(len(approaches))))},
            tune_config=tune.TuneConfig(max_concurrent_trials=len(approaches), reuse_actors=False),
            run_config=tune.RunConfig(
                name=TUNE_EXPERIMENT,
                storage_path=experiment.rsplit("/", 1)[0],
                callbacks=[_ForwardProgress(key)],
                stop=_CancelStopper(key),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                verbose=0,
            ),
        )
    # With those loggers off, Tune's ResultGrid warns that it found no result.json or
    # progress.csv to build per-trial dataframes from; TabRL reads each trial's last
    # reported result instead, so the warning only alarms the person reading the log.
    analysis_log = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis_log.level
    analysis_log.setLevel(logging.ERROR)
    try:
        grid = tuner.fit()
    finally:
        analysis_log.setLevel(level)
        _HANDLERS.pop(key, None), _CANCELLED.pop(key, None)
    stopped = cancelled is not None and cancelled()
    results = [TrialResult(index=i, name=a.name, description=a.description, reward=a.reward,
                           status="cancelled" if stopped else "failed",
                           error="cancelled" if stopped else "the trial never started")
               for i, a in enumerate(approaches)]
    for trial_result in grid:
        if not trial_result.config:  # stopped before it started (a cancel)
            continue
        result = results[trial_result.config["index"]]
        result.status, result.error = "failed", None
        if trial_result.error is None and (trial_result.metrics or {}).get("done"):
            train = TrainResult.model_validate(trial_result.metrics["result"])
            result.status, result.checkpoint = "succeeded", train.checkpoint
            result.metrics = TrialMetrics(final_reward=train.final_reward, train_seconds=train.train_seconds,
                                          compile_seconds=train.compile_seconds, env_steps=train.env_steps,
                                          env_steps_per_second=train.env_steps_per_second,
                                          critic_seconds=train.critic_seconds)
        elif stopped and trial_result.error is None:
            result.status, result.error = "cancelled", "cancelled"
        else:
            result.error = error_line(trial_result.error, "the trial ended without a result")
    return results
