"""Rendering a batch: one batched rollout for every policy, videos drawn in parallel
processes, each with its behaviour report. Real MJX, real MuJoCo rendering, real ffmpeg,
on CartpoleBalance checkpoints with different (untrained) parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

MODEL = "CartpoleBalance"
PROMPT = "Swing the pole wildly but never let it fall"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> list[Path]:
    """Three checkpoints of the three proposed approaches, each with its own random policy."""
    from tabrl.rewards import propose
    from tabrl.training import checkpoint_networks, policy_env, save_checkpoint, scaled_ppo_config

    root = tmp_path_factory.mktemp("checkpoints")
    config = scaled_ppo_config(MODEL, 5000)
    env = policy_env(MODEL)
    out = []
    for i, approach in enumerate(propose(MODEL, PROMPT).approaches):
        _, params = checkpoint_networks(config, env, seed=10 + i)
        out.append(save_checkpoint(root / f"approach-{i}" / "checkpoint", MODEL, config, params, approach.reward, []))
    return out


def test_one_batched_rollout_equals_each_policy_alone(checkpoints):
    from tabrl.policy_rollout import _program, checkpoint_row, rollout_rows

    rows = [checkpoint_row(c) for c in checkpoints]
    _program.cache_clear()
    together = rollout_rows(MODEL, rows, seconds=2.0, fps=30)
    assert _program.cache_info().misses == 1  # one program for the three policies
    assert [s["qpos"].shape[0] for s in together] == [60] * 3
    first = together[0]["qpos"][0]
    assert all(np.array_equal(s["qpos"][0], first) for s in together)
    # different parameters act differently: the policies are arguments, not one baked-in policy
    assert not np.allclose(together[0]["qpos"][-1], together[1]["qpos"][-1], atol=1e-3)
    for row, batched in zip(rows, together):
        (alone,) = rollout_rows(MODEL, [row], seconds=2.0, fps=30)
        np.testing.assert_allclose(alone["qpos"], batched["qpos"], atol=1e-4)


def test_a_batch_renders_in_parallel_with_reports(checkpoints, tmp_path):
    from tabrl.rendering import render_batch_videos
    from tabrl.video import probe, read_frames

    items = [(i, c, f"approach {i}") for i, c in enumerate(checkpoints)]
    videos, composite = render_batch_videos(items, tmp_path, seconds=3.0, fps=30, size=(160, 120))
    assert [v.error for v in videos] == [None] * 3
    decoded = [read_frames(Path(v.video)) for v in videos]
    assert [len(d) for d in decoded] == [90] * 3
    assert all(np.array_equal(d[0], decoded[0][0]) for d in decoded)  # the same first frame
    assert not np.array_equal(decoded[0][-1], decoded[1][-1])
    assert probe(composite).width == 3 * 160
    for video in videos:
        b = video.behaviour
        assert b.report.frames == 90 and b.report.family == "dm_control_suite"
        assert b.words and b.intents is not None and b.intents.results
        assert b.reference_policy == "zero action" and b.reference is not None  # no base policy
    assert videos[0].behaviour.report != videos[1].behaviour.report


def test_measure_prints_a_checkpoints_report(checkpoints):
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-m", "tabrl_cli", "measure", "--checkpoint", str(checkpoints[0]),
                             "--seconds", "2", "--json"], capture_output=True, text=True, cwd=REPO, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["report"]["frames"] == 60
    assert report["reference_policy"] == "zero action"
    assert report["intents"]["results"]
    text = subprocess.run([sys.executable, "-m", "tabrl_cli", "measure", "--checkpoint", str(checkpoints[0]),
                           "--seconds", "2"], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert text.returncode == 0, text.stderr[-2000:]
    assert "travels" in text.stdout and "what changed" in text.stdout


def test_a_job_renders_with_the_rollout_tabrl_warm_stored(checkpoints, tmp_path):
    """What `make up` has the renderer do at start (`tabrl.warm.warm_rendering`) stores the
    model's video rollout; a job's render in another process loads it: nothing is compiled
    into the executable store again. (Once, the store's key read an attribute of TabRL's
    wrapper that only the warm-up had set, and every render compiled the rollout afresh.)"""
    env = {**os.environ, "TABRL_JAX_CACHE_DIR": str(tmp_path / "cache")}
    store = tmp_path / "cache" / "executables"

    def run(code: str) -> None:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                              timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]

    run(f"from tabrl.warm import warm_rendering; warm_rendering({MODEL!r}, 5000, seconds=2.0)")
    stored = sorted(store.glob("*.pjrt"))
    assert stored, "the warm-up stored no rollout program"
    items = [(i, str(c), f"approach {i}") for i, c in enumerate(checkpoints)]
    run(f"from tabrl.rendering import render_batch_videos; "
        f"videos, _ = render_batch_videos({items!r}, {str(tmp_path / 'job')!r}, seconds=2.0, size=(64, 48)); "
        f"assert [v.error for v in videos] == [None] * 3, videos")
    assert sorted(store.glob("*.pjrt")) == stored  # loaded, not compiled again
