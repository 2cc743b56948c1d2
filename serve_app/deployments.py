"""The Ray Serve deployments behind the API, one per resource need (Ray Serve's model composition).

    Proposer             prompt -> three reward approaches (CPU; LLM or offline library)
    Renderer             checkpoints -> synchronized H.264 videos (a GPU share on GPU clusters, EGL)
    PolicyServer         trained checkpoints -> actions (jitted, a few kept loaded)
    TrainingCoordinator  the batch queue: starts each batch as a Ray task running Tune, so the
                         ingress never blocks; one replica, so the queue has one owner

Every deployment reserves 0 CPUs by default: on a 2-core machine the cores
belong to the Tune trials. `serve_app/config.yaml` sets real reservations for
clusters. Client mistakes raise `ClientError`, which the ingress turns into a 4xx.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ray import serve

from serve_app.schemas import JobView, WarmStatus
from serve_app.settings import ServeSettings, load_settings
from serve_app.store import ACTIVE_STATUSES, JobStore, mark_cancelled
from tabrl.errors import error_line

log = logging.getLogger("tabrl.serve")


class ClientError(Exception):
    """A request the server cannot honour; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}

    def __reduce__(self):  # survives Ray's pickling across processes
        return (ClientError, (self.status, self.detail, self.headers))


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Proposer:
    def propose(self, model_id: str, prompt: str, variant: int = 0) -> dict:
        from tabrl.rewards import propose

        return propose(model_id, prompt, variant).model_dump(mode="json")


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Renderer:
    def render_batch(self, out_dir: str, items: list, options: dict) -> dict:
        from tabrl.rendering import render_batch_videos
        from tabrl.stages import StageClock

        clock = StageClock()
        videos, composite = render_batch_videos(
            [(i, Path(c), label) for i, c, label in items], Path(out_dir),
            seconds=options["seconds"], fps=options["fps"], size=(options["width"], options["height"]),
            seed=options["seed"], clock=clock,
        )
        return {"videos": [v.model_dump() for v in videos], "composite": str(composite) if composite else None,
                "stages": [s.model_dump() for s in clock.stages]}

    def warm(self, model_id: str, num_steps: int, seconds: float = 10.0, fps: int = 30) -> float:
        """Compile the model's video rollout in this replica, where the jobs' rollouts run."""
        from tabrl.warm import warm_rendering

        return warm_rendering(model_id, num_steps, seconds=seconds, fps=fps)

    def render_one(self, checkpoint: str, out: str, seconds: float, fps: int, width: int, height: int,
                   seed: int) -> int:
        from tabrl.rendering import render_policy_video

        return len(render_policy_video(Path(checkpoint), Path(out), seconds, fps, width, height, seed=seed))


@serve.deployment(ray_actor_options={"num_cpus": 0})
class PolicyServer:
    """Loads trained checkpoints on demand and keeps the `KEEP` most recently used."""

    KEEP = 4

    def __init__(self):
        self.loaded: OrderedDict[str, tuple] = OrderedDict()

    def _policy(self, checkpoint: str):
        if checkpoint not in self.loaded:
            from tabrl.playground import load_env
            from tabrl.training import load_policy

            policy, meta = load_policy(Path(checkpoint))
            env = load_env(meta["model_id"])
            key = meta["ppo"]["network"]["policy_obs_key"]
            clock_hz = (meta.get("reward") or {}).get("clock_hz", 1.0)
            self.loaded[checkpoint] = (policy, env.observation_size, key, clock_hz)
            while len(self.loaded) > self.KEEP:
                self.loaded.popitem(last=False)
        self.loaded.move_to_end(checkpoint)
        return self.loaded[checkpoint]

    def act(self, checkpoint: str, observation, deterministic: bool = True, time_s: float = 0.0) -> list[float]:
        import jax
        import numpy as np

        from tabrl.controls import with_phase_numpy

        policy, size, key, clock_hz = self._policy(checkpoint)
        obs = with_phase_numpy(_observation_array(observation, size, key), time_s, clock_hz)
        seed = 0 if deterministic else int(time.time_ns() % 2**31)
        action = policy(obs, jax.random.PRNGKey(seed))
        return [float(a) for a in np.asarray(action).ravel()]


def _observation_array(observation, size, key: str):
    """Check an observation against the environment's size; the policy's input (a dict when it has keys)."""
    import numpy as np

    if isinstance(size, dict):  # dict observations: {"state": (n,), "privileged_state": (m,)}
        expected = {k: int(np.prod(v)) for k, v in size.items()}
        if not isinstance(observation, dict):
            raise ClientError(422, f"this policy takes a dict observation with keys {sorted(expected)}; "
                                   f"'{key}' needs {expected[key]} numbers")
        unknown = sorted(set(observation) - set(expected))
        if unknown:
            raise ClientError(422, f"unknown observation keys {unknown}; expected {sorted(expected)}")
        values = {k: _vector(observation.get(k, [0.0] * n), n, k) for k, n in expected.items()}
        if key not in observation:
            raise ClientError(422, f"the observation needs '{key}' ({expected[key]} numbers)")
        return values
    if isinstance(observation, dict):
        raise ClientError(422, f"this policy takes a flat observation of {size} numbers, not a dict")
    return _vector(observation, int(size), "observation")


def _vector(values, n: int, name: str):
    import numpy as np

    array = np.asarray(values, dtype=np.float32)
    if array.shape != (n,):
        raise ClientError(422, f"{name} must have {n} numbers, got {array.size}")
    if not np.all(np.isfinite(array)) or np.any(np.abs(array) > 1e6):
        raise ClientError(422, f"{name} must be finite numbers within ±1e6")
    return array


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
class TrainingCoordinator:
    """The queue of batches. Jobs a restart cut off go back to the front of the queue and resume
    from their trials' last snapshots; queued ones stay queued."""

    POLL_SECONDS = 0.5

    def __init__(self, proposer, renderer):
        self.settings: ServeSettings = load_settings()
        self.store = JobStore(self.settings.job_store)
        self.proposer, self.renderer = proposer, renderer
        self.running: dict[str, object] = {}
        self.lock = threading.Lock()
        requeued, cancelled = self.store.requeue_cut_off()
        if requeued:
            log.warning("resuming %d job(s) a restart cut off: %s", len(requeued), requeued)
        if cancelled:
            log.warning("cancelled %d job(s) cut off with a cancel request: %s", len(cancelled), cancelled)
        self.warming: dict[str, WarmStatus] = {
            model: WarmStatus(model_id=model, num_steps=steps, state="waiting", stage="waiting to start")
            for model, steps in self.settings.warm}
        if self.warming:
            threading.Thread(target=self._warm, name="tabrl-warm", daemon=True).start()
        threading.Thread(target=self._loop, name="tabrl-queue", daemon=True).start()

    def warm_status(self) -> list[dict]:
        return [status.model_dump() for status in self.warming.values()]

    def _warm(self) -> None:
        """Compile each `TABRL_WARM` model's programs, one model after the other: its training
        round as a Ray task (no CPU reserved: the trials' share stays whole), then its
        rollout in the renderer replica."""
        import ray

        from tabrl.warm import warm_steps, warm_training

        for model, steps in self.settings.warm:
            status = self.warming[model]
            started = time.monotonic()
            try:
                status.num_steps = steps or warm_steps(model)
                status.state, status.stage = "warming", "compiling its training program"
                task = ray.remote(num_cpus=0, max_retries=0)(warm_training)
                report = ray.get(task.remote(model, status.num_steps))
                status.executables_compiled = report.executables_compiled
                status.stage = "compiling its video rollout"
                self.renderer.warm.remote(model, status.num_steps).result()
                status.state, status.stage = "ready", "ready"
            except Exception as error:  # a failed warm-up costs the first job its compile, nothing more
                log.warning("warming %s failed: %s", model, error_line(error))
                status.state, status.stage, status.error = "failed", "failed", error_line(error)
            status.seconds = round(time.monotonic() - started, 1)

    def submit(self, job: dict) -> dict:
        """Queue a job (a JobView as a dict); raises ClientError(429) when the queue is full."""
        with self.lock:
            queued = self.store.ids_with_status("queued")
            if len(queued) >= self.settings.max_queued and len(self.running) >= self.settings.max_running:
                raise ClientError(429, f"the queue is full ({len(queued)} batches waiting); try again later",
                                  {"Retry-After": str(self.retry_after())})
            self.store.create(JobView.model_validate(job))
        self._start_ready()
        return {"queue_position": self.store.queue_position(job["job_id"])}

    def retry_after(self) -> int:
        """Seconds until a slot frees up, from the running jobs' own estimates (at least 10)."""
        left = []
        for job_id in list(self.running):
            job = self.store.get(job_id)
            if job and job.estimated_seconds and job.started_at:
                left.append(job.estimated_seconds - (time.time() - job.started_at))
        return int(max(10, min(left) if left else 60))

    def _start_ready(self) -> None:
        import ray

        from serve_app.runner import run_job

        with self.lock:
            for job_id in self.store.ids_with_status("queued"):
                if len(self.running) >= self.settings.max_running:
                    break

                began = []

                def starting(view: JobView) -> None:
                    if view.status == "queued":  # not cancelled since the list was read
                        view.status, view.stage = "proposing" if not view.trials else "training", "starting"
                        began.append(job_id)
                self.store.update(job_id, starting)
                if not began:
                    continue
                task = ray.remote(num_cpus=0, max_retries=0)(run_job)
                self.running[job_id] = task.remote(job_id, self.settings, self.proposer, self.renderer)

    def _loop(self) -> None:
        import ray

        while True:
            time.sleep(self.POLL_SECONDS)
            try:
                with self.lock:
                    refs = dict(self.running)
                if refs:
                    done, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=0)
                    for job_id, ref in refs.items():
                        if ref in done:
                            self._finish(job_id, ref)
                self._start_ready()
            except Exception:  # the queue must keep going
                log.exception("queue loop")

    def _finish(self, job_id: str, ref) -> None:
        import ray

        with self.lock:
            self.running.pop(job_id, None)
        try:
            ray.get(ref)
        except (ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError) as error:
            # Lost with its node (or with this server going down): resumed from its snapshots.
            log.warning("job %s lost its node (%s); it goes back to the queue to resume", job_id, error_line(error))
            self.store.requeue(job_id, "resuming: the node it ran on was lost")
        except Exception as error:  # the task itself died (out of memory, a killed worker)
            cancelled, reason = self.store.cancel_requested(job_id), error_line(error)

            def failed(view: JobView) -> None:
                if cancelled and view.status in ACTIVE_STATUSES:
                    mark_cancelled(view)
                elif view.status in ACTIVE_STATUSES or view.status == "queued":
                    view.status, view.stage = "failed", "failed"
                    view.error = f"the job's worker died: {reason}"
                    view.finished_at = time.time()
            self.store.update(job_id, failed)
