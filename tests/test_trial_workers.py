"""Warm trial workers (tune_jobs.workers): where Ray outlives a job (`tabrl serve`), the next
job's trials train in the processes the last job's trials warmed, still as Tune trials that
report, fail alone and stop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tabrl.rewards import propose

PROMPT = "Keep shaking your hips aloha dude!"
STEPS = 2000


def trained_by(trials) -> list[int]:
    return [json.loads((Path(t.checkpoint) / "config.json").read_text())["run"]["pid"] for t in trials]


@pytest.mark.slow
def test_the_next_batch_trains_in_the_warm_workers_and_a_failure_or_a_cancel_leaves_them_usable(tmp_path):
    from tune_jobs import run_batch

    approaches = propose("CartpoleBalance", PROMPT).approaches
    seen: list[int] = []
    first = run_batch("CartpoleBalance", approaches, STEPS, tmp_path / "a", warm_workers=True,
                      on_progress=lambda index, progress: seen.append(index))
    assert [t.status for t in first] == ["succeeded"] * 3, [t.error for t in first]
    assert set(seen) == {0, 1, 2}  # each trial's progress reached the caller, as without workers
    workers = trained_by(first)
    assert len(set(workers)) == 3 and os.getpid() not in workers  # three processes, none the driver

    # The next batch, one of its rewards NaN: that trial fails alone with its reason, and the
    # others train in the processes the first batch left warm.
    spec = approaches[1].reward
    nan_term = spec.terms[0].model_copy(update={"weight": float("nan")})
    broken = approaches[1].model_copy(update={"reward": spec.model_copy(update={"terms": [nan_term, *spec.terms[1:]]})})
    second = run_batch("CartpoleBalance", [approaches[0], broken, approaches[2]], STEPS, tmp_path / "b",
                       warm_workers=True, seed=1)
    assert [t.status for t in second] == ["succeeded", "failed", "succeeded"], [t.error for t in second]
    assert "non-finite" in second[1].error or "NaN" in second[1].error
    assert set(trained_by([second[0], second[2]])) <= set(workers)

    # A cancel stops the trials; the batch after it trains again.
    cancelled = run_batch("CartpoleBalance", approaches, 200_000, tmp_path / "c", warm_workers=True,
                          on_progress=lambda index, progress: seen.append(-1), cancelled=lambda: -1 in seen)
    assert {t.status for t in cancelled} == {"cancelled"}, [t.error for t in cancelled]
    after = run_batch("CartpoleBalance", approaches, STEPS, tmp_path / "d", warm_workers=True, seed=2)
    assert [t.status for t in after] == ["succeeded"] * 3, [t.error for t in after]
