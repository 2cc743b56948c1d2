"""One Tuner run per batch: three trials, one per approach, running concurrently.

Each trial reports its metrics to Tune once per PPO epoch (`tune.report`); a
driver-side Tune callback forwards them to whoever asked (the CLI's progress
bars, the Serve app's job store). A trial that raises fails alone: Tune keeps
the others running (`fail_fast=False`, no retries), and its error is in the
outcome.
"""

from __future__ import annotations

import math

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import ray
from ray import tune

from tabrl.errors import error_line
from tabrl.settings import compile_cache_dir
from tabrl.training import Progress, TrainResult

ProgressHandler = Callable[[int, Progress], None]


class TrialOutcome(BaseModel):
    index: int
    status: str  # "succeeded" | "failed"
    result: TrainResult | None = None
    error: str | None = None


class BatchResult(BaseModel):
    storage: str
    trials: list[TrialOutcome]


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
    """The Tune trainable (runs in a Ray worker)."""
    from tabrl.rewards.spec import RewardSpec
    from tabrl.training import train_approach

    index = config["index"]
    spec = approaches[index]
    if spec is not None and not isinstance(spec, RewardSpec):
        spec = RewardSpec.model_validate(spec)

    def report(progress: Progress) -> None:
        tune.report({"progress": progress.model_dump(mode="json"), "env_steps": progress.env_steps,
                     "episode_reward": progress.episode_reward})

    result = train_approach(
        settings["model_id"], spec,
        num_steps=settings["num_steps"],
        out_dir=Path(settings["out_dir"]) / f"approach-{index}" / "checkpoint",
        progress=report,
        base_checkpoint=Path(settings["base_checkpoint"]) if settings.get("base_checkpoint") else None,
        seed=settings.get("seed", 0),
        compile_cache=Path(settings["compile_cache"]),
    )
    tune.report({"result": result.model_dump(mode="json"), "env_steps": result.env_steps, "done": True})


class _ForwardProgress(tune.Callback):
    def __init__(self, handler: ProgressHandler | None):
        self.handler = handler

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.handler is not None and "progress" in result:
            self.handler(trial.config["index"], Progress.model_validate(result["progress"]))


def run_batch(
    model_id: str,
    specs: list,
    num_steps: int,
    out_dir: Path,
    *,
    base_checkpoint: Path | None = None,
    on_progress: ProgressHandler | None = None,
    resources_per_trial: dict[str, float] | None = None,
    storage_path: str | None = None,
    compile_cache: Path | None = None,
    seed: int = 0,
) -> BatchResult:
    """Train every spec of `specs` as a concurrent Tune trial; never raises for a failed trial.

    `storage_path` is where Tune keeps its results: a folder (default:
    `out_dir/tune`) or `s3://...` / `gs://...` on a cluster. `compile_cache` is
    the folder of JAX's persistent compilation cache and TabRL's executable
    store, shared by the trials and by later batches (default:
    `tabrl.settings.compile_cache_dir()`): the approaches of a batch share one
    training program, compiled by the first trial while the others wait
    (`tabrl.training.CompileLock`) and then load it ready-made.
    """
    # Tune's automatic CSV/JSON/TensorBoard loggers would choke on the nested
    # progress history; TabRL's record is the checkpoint's config.json.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    ensure_ray()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "model_id": model_id,
        "num_steps": num_steps,
        "out_dir": str(out_dir),
        "base_checkpoint": str(base_checkpoint) if base_checkpoint else None,
        "compile_cache": str(compile_cache or compile_cache_dir()),
        "seed": seed,
    }
    # The specs travel pickled through Ray's object store, exactly as given.
    trainable = tune.with_parameters(_train_trial, approaches=list(specs), settings=settings)
    trainable = tune.with_resources(trainable, resources_per_trial or default_resources(len(specs)))
    storage = storage_path or str(out_dir / "tune")
    tuner = tune.Tuner(
        trainable,
        param_space={"index": tune.grid_search(list(range(len(specs))))},
        tune_config=tune.TuneConfig(max_concurrent_trials=len(specs), reuse_actors=False),
        run_config=tune.RunConfig(
            name="batch",
            storage_path=storage,
            callbacks=[_ForwardProgress(on_progress)],
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
    outcomes = []
    for trial_result in grid:
        index = trial_result.config["index"]
        if trial_result.error is None and trial_result.metrics.get("done"):
            outcomes.append(TrialOutcome(index=index, status="succeeded",
                                         result=TrainResult.model_validate(trial_result.metrics["result"])))
        else:
            error = error_line(trial_result.error, "the trial ended without a result")
            outcomes.append(TrialOutcome(index=index, status="failed", error=error))
    return BatchResult(storage=storage, trials=sorted(outcomes, key=lambda o: o.index))
