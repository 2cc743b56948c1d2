"""Warm trial workers: long-lived processes that train the trials of one job after another.

Why: each Tune trial is a new process, and a new process pays again for what the last
job's trials already had: importing JAX, Brax and Playground, building the environment,
loading the compiled programs from the executable store. Under `tabrl serve`, where Ray
outlives the jobs, a trial instead hands its `train_approach` call to a worker that has
done all that before, on the trial's own node, and relays what the worker reports. Tune
still runs the trials: their resources (the worker asks for none; the trial holds them),
reports, snapshots, stopping, resuming and failing alone are Tune's as before.

A worker trains one trial at a time (the executable store and Brax's state are
per-process). A trial claims the first idle worker of its node (slot = its index
first), creating it when there is none (a detached, named actor). The trial polls its
worker; a worker whose trial stopped polling (the trial was stopped or killed) stops
that training at its next epoch. A worker that has trained nothing for `IDLE_EXIT_S`
exits. Trials that ask for a GPU do not use workers: the worker would have to hold the
GPU between jobs.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import ray

NAMESPACE = "tabrl"
SLOTS = 8
IDLE_EXIT_S = 15 * 60
ABANDONED_S = 60.0  # generous: a trial blocked that long in `tune.report` would fail
POLL_S = 0.5


class TrialStopped(RuntimeError):
    """The trial that asked for this training stopped waiting for it."""


class _Run:
    def __init__(self, run_id: str):
        self.run_id = run_id
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.polled = threading.Event()
        self.last_poll = time.monotonic()

    def check(self) -> None:
        if self.stop.is_set() or time.monotonic() - self.last_poll > ABANDONED_S:
            raise TrialStopped("the trial stopped waiting for its training")


@ray.remote(num_cpus=0, max_concurrency=4)
class TrialWorker:
    """One warm process; `start` a training, `poll` its events, `stop` it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._idle_since = time.monotonic()
        threading.Thread(target=self._exit_when_idle, name="tabrl-worker-idle", daemon=True).start()

    def start(self, run_id: str, kwargs: dict[str, Any], snapshots: bool) -> bool:
        """Start `train_approach(**kwargs)` for `run_id`; False when busy with another."""
        with self._lock:
            if self._run is not None:
                return False
            self._run = run = _Run(run_id)
        threading.Thread(target=self._train, args=(run, kwargs, snapshots), name="tabrl-trial", daemon=True).start()
        return True

    def poll(self, run_id: str) -> list[tuple[str, Any]]:
        """What happened since the last poll: ("progress", Progress), ("snapshot", (steps, path)),
        then ("result", TrainResult) or ("error", the exception)."""
        run = self._run
        if run is None or run.run_id != run_id:
            return [("error", TrialStopped(f"this worker no longer trains {run_id}"))]
        run.last_poll = time.monotonic()
        run.polled.set()
        events = []
        try:
            events.append(run.events.get(timeout=POLL_S))
            while True:
                events.append(run.events.get_nowait())
        except queue.Empty:
            pass
        return events

    def stop(self, run_id: str) -> None:
        run = self._run
        if run is not None and run.run_id == run_id:
            run.stop.set()

    def _train(self, run: _Run, kwargs: dict[str, Any], snapshots: bool) -> None:
        from tabrl.training import train_approach

        def progress(report) -> None:
            run.check()
            run.events.put(("progress", report))

        def snapshot(env_steps: int, path) -> None:
            # Wait until the trial came back for more: it has handed the snapshot to Tune, so
            # the next snapshot may remove this one's folder.
            run.polled.clear()
            run.events.put(("snapshot", (env_steps, str(path))))
            while not run.polled.wait(POLL_S):
                run.check()

        try:
            result = train_approach(**kwargs, progress=progress, snapshot=snapshot if snapshots else None)
            run.events.put(("result", result))
        except BaseException as error:  # handed to the trial, which raises it as its own
            run.events.put(("error", error))
        finally:
            while not run.events.empty() and not run.stop.is_set() and \
                    time.monotonic() - run.last_poll < ABANDONED_S:
                time.sleep(POLL_S)  # the trial collects the last events before another may start
            with self._lock:
                self._run = None
                self._idle_since = time.monotonic()

    def _exit_when_idle(self) -> None:
        while True:
            time.sleep(30)
            with self._lock:
                if self._run is None and time.monotonic() - self._idle_since > IDLE_EXIT_S:
                    os._exit(0)  # a detached actor ends with its process; the next job makes another


def uses_workers(resources: dict[str, float]) -> bool:
    """Whether trials with these resources train in warm workers (not when they ask for a GPU)."""
    return not resources.get("gpu")


def train_in_worker(index: int, kwargs: dict[str, Any], *, on_progress: Callable[[Any], None],
                    on_snapshot: Callable[[int, str], None] | None = None):
    """Run `train_approach(**kwargs, progress=on_progress, snapshot=on_snapshot)` in a warm
    worker of this node; returns its `TrainResult` and raises what it raised. Called inside a
    Tune trial (trial `index` tries its own slot first)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    run_id = f"{ray.get_runtime_context().get_actor_id() or os.getpid()}-{time.time_ns()}"
    worker = None
    for slot in [index % SLOTS, *range(SLOTS)]:
        candidate = TrialWorker.options(
            name=f"tabrl-trial-worker-{node[:16]}-{slot}", namespace=NAMESPACE, lifetime="detached",
            get_if_exists=True, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        ).remote()
        try:
            started = ray.get(candidate.start.remote(run_id, kwargs, on_snapshot is not None))
        except ray.exceptions.RayActorError:  # it exited (idle) as we found it: try the next
            continue
        if started:
            worker = candidate
            break
    if worker is None:
        raise RuntimeError(f"all {SLOTS} trial workers of this node are busy")
    try:
        while True:
            for kind, value in ray.get(worker.poll.remote(run_id)):
                if kind == "progress":
                    on_progress(value)
                elif kind == "snapshot":
                    on_snapshot(*value)
                elif kind == "result":
                    return value
                else:
                    raise value
    finally:
        worker.stop.remote(run_id)
