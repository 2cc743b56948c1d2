"""Where a job's time goes: its stages (propose, start, critic, compile, train, render,
composite) with their seconds, as `tabrl train --json`, `job.json` and the API show them.

The trials run concurrently, so a batch's stages are read from its wall time and the
slowest trial: critic (fitting a base policy's value network before PPO,
`tabrl.finetune`; only when a trial did), compile and train are the largest of the
trials' own figures, and "start" is the rest of the batch's wall (Ray's start, each
trial process's imports and set-up, waiting for a core).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import BaseModel


class Stage(BaseModel):
    name: str
    seconds: float


class StageClock:
    """Collects stages in the order they ran."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []

    def add(self, name: str, seconds: float) -> None:
        self.stages.append(Stage(name=name, seconds=round(max(0.0, seconds), 2)))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def add_batch(self, batch_seconds: float, trials: Sequence) -> None:
        """start, critic (when a trial warmed one up), compile, train from a batch's wall and
        its trials' `TrainResult`s (or `TrialMetrics`)."""
        results = [t for t in trials if t is not None]
        critic_s = max((r.critic_seconds for r in results), default=0.0)
        compile_s = max((r.compile_seconds for r in results), default=0.0)
        train_s = max((r.train_seconds for r in results), default=0.0)
        slowest = max((r.critic_seconds + r.compile_seconds + r.train_seconds for r in results), default=0.0)
        self.add("start", batch_seconds - slowest)
        if critic_s > 0:
            self.add("critic", critic_s)
        self.add("compile", compile_s)
        self.add("train", train_s)


def stages_text(stages: Sequence[Stage]) -> str | None:
    """Where the time went, in one line for a person: `start 94 s · compile 3 s · train 50 s ·
    render 122 s · composite 1 s (270 s in all)`; None before any stage ran."""
    if not stages:
        return None
    total = sum(s.seconds for s in stages)
    return " · ".join(f"{s.name} {s.seconds:.0f} s" for s in stages) + f" ({total:.0f} s in all)"

