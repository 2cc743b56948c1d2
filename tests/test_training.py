"""`tabrl train`: real local Ray, real Tune trials, real PPO, real rendering."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

PROMPT = "Swing the pole wildly but never let it fall"
STEPS = 2000
"""The API's and the browser's tests train CartpoleBalance with this budget too: one training
program (the budget sets the episode length it is compiled for), compiled once for the suite
and loaded from the executable store after that."""


def tabrl(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tabrl_cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=os.environ.copy())


def assert_synchronized_h264(videos: list[str], seconds: float = 10.0) -> list:
    from tabrl.video import probe, read_frames

    infos = [probe(Path(v)) for v in videos]
    for info in infos:
        assert (info.codec, info.pixel_format) == ("h264", "yuv420p")
        assert info.seconds >= seconds - 1e-6
    assert len({info.frames for info in infos}) == 1, [i.frames for i in infos]
    first = [read_frames(Path(v))[0].astype(int) for v in videos]
    for frame in first[1:]:
        assert np.array_equal(frame, first[0]), f"first frames differ (mean {np.abs(frame - first[0]).mean():.3f})"
    return infos


@pytest.fixture(scope="module")
def cartpole_job(tmp_path_factory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("cartpole-job")
    result = tabrl("train", "--model", "CartpoleBalance", "--prompt", PROMPT, "--steps", str(STEPS),
                   "--size", "320x240", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), out, result.stderr


@pytest.mark.slow
def test_train_gives_three_synchronized_h264_videos(cartpole_job):
    job, out, stderr = cartpole_job
    assert job["model"] == "CartpoleBalance" and job["prompt"] == PROMPT
    assert len(job["approaches"]) == 3
    assert [a["status"] for a in job["approaches"]] == ["succeeded"] * 3, job["approaches"]
    assert len({a["name"] for a in job["approaches"]}) == 3
    for approach in job["approaches"]:
        metrics = approach["metrics"]
        assert metrics["env_steps"] >= STEPS
        assert math.isfinite(metrics["final_reward"])
        assert metrics["train_seconds"] > 0 and metrics["compile_seconds"] >= 0
        assert (Path(approach["checkpoint"]) / "params.msgpack").is_file()
        assert Path(approach["video"]).is_relative_to(out)
    # In parallel: every trial had started before any finished (on 2 CPUs too).
    runs = [json.loads((Path(a["checkpoint"]) / "config.json").read_text())["run"] for a in job["approaches"]]
    assert max(r["started_at"] for r in runs) < min(r["finished_at"] for r in runs), runs
    infos = assert_synchronized_h264([a["video"] for a in job["approaches"]])
    assert (infos[0].width, infos[0].height, infos[0].fps) == (320, 240, 30.0)
    from tabrl.video import probe

    composite = probe(Path(job["composite"]))
    assert composite.codec == "h264" and composite.width == 3 * 320
    assert composite.frames == infos[0].frames
    # What each policy did, measured from its video's rollout, in the output and in job.json.
    assert json.loads((out / "job.json").read_text()) == job
    # Where the time went, as the person watching saw it: each stage as it began, then the split.
    assert [s["name"] for s in job["stages"]] == ["propose", "start", "compile", "train", "render", "composite"]
    assert "] training 3 approaches in parallel" in stderr and "] rendering the videos" in stderr
    for approach in job["approaches"]:
        behaviour = approach["behaviour"]
        assert behaviour["report"]["frames"] == infos[0].frames and "travels" in behaviour["words"]
        assert behaviour["intents"]["results"] and behaviour["reference_policy"] == "zero action"
    assert len(job["distinctness"]["pairs"]) == 3
    # Where the time went, stage by stage.
    stages = {s["name"]: s["seconds"] for s in job["stages"]}
    assert list(stages) == ["propose", "start", "compile", "train", "render", "composite"]
    assert all(v >= 0 for v in stages.values()) and stages["train"] > 0 and stages["render"] > 0
    assert sum(stages.values()) - stages["propose"] <= job["seconds"] + 1
    # Everything needed to make the same videos again: the run's settings and each trial's spec.
    run = job["run"]
    assert run["video"] == {"seconds": 10.0, "fps": 30, "width": 320, "height": 240, "seed": 0}
    assert (run["model"], run["num_steps"], len(run["reset_key"])) == ("CartpoleBalance", STEPS, 2)
    assert all(run["versions"][name] for name in ("tabrl", "jax", "brax", "playground", "mujoco"))
    assert job["status"] == "succeeded" and job["source"] in ("offline", "llm", "fallback")
    assert [a["index"] for a in job["approaches"]] == [0, 1, 2] and all(a["reward"]["terms"] for a in job["approaches"])


@pytest.mark.slow
def test_render_command_rerenders_a_checkpoint(cartpole_job, tmp_path):
    job, _, _ = cartpole_job
    out = tmp_path / "again.mp4"
    result = tabrl("render", "--checkpoint", job["approaches"][0]["checkpoint"], "--out", str(out),
                   "--seconds", "3", "--size", "160x120")
    assert result.returncode == 0, result.stderr[-2000:]
    from tabrl.video import probe

    info = probe(out)
    assert (info.frames, info.width, info.codec) == (90, 160, "h264")


@pytest.mark.slow
def test_a_trial_whose_reward_turns_nan_fails_alone(tmp_path):
    """One approach's reward is NaN at run time: it fails with that reason, the others succeed."""
    from tabrl.rewards import propose
    from tune_jobs import run_batch

    approaches = propose("CartpoleBalance", PROMPT).approaches
    spec = approaches[1].reward
    # model_copy(update=...) skips validation, as a spec corrupted after validation would.
    nan_term = spec.terms[0].model_copy(update={"weight": float("nan")})
    broken = spec.model_copy(update={"terms": [nan_term, *spec.terms[1:]]})
    approaches[1] = approaches[1].model_copy(update={"reward": broken})
    trials = run_batch("CartpoleBalance", approaches, 2000, tmp_path)
    statuses = [t.status for t in trials]
    assert statuses == ["succeeded", "failed", "succeeded"], trials
    assert "non-finite" in trials[1].error or "NaN" in trials[1].error


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "at least"),
        (["--steps", "-5"], "at least"),
        (["--steps", str(10**13)], "at most"),
        (["--steps", "many"], "invalid int"),
        (["--model", "Go2Dance", "--steps", "5000"], "Unknown model"),
    ],
)
def test_bad_training_requests_are_clear_errors(args, message):
    base = {"--model": "CartpoleBalance", "--prompt": "dance", "--steps": "5000"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = tabrl("train", *[x for pair in base.items() for x in pair], timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_tiny_go1_batch_fine_tunes_the_base_and_stays_on_its_feet(tmp_path):
    """The hero robot end to end: dict observations, locomotion features, a following camera,
    three approaches fine-tuned from the base policy (its critic warmed up first), and the
    videos' own rollouts upright for the whole 10 s: no collapse from a cold critic."""
    result = tabrl("train", "--model", "Go1JoystickFlatTerrain", "--prompt", "Keep shaking your hips aloha dude!",
                   "--steps", "10000", "--size", "160x120", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(result.stdout)
    assert [a["status"] for a in job["approaches"]] == ["succeeded"] * 3, [a["error"] for a in job["approaches"]]
    assert_synchronized_h264([a["video"] for a in job["approaches"]])
    for approach in job["approaches"]:
        meta = json.loads((Path(approach["checkpoint"]) / "config.json").read_text())
        assert meta["run"]["base_checkpoint"], "the Go1 fine-tunes its base policy"
        warm_up = meta["run"]["critic_warm_up"]
        assert warm_up["explained_variance_after"] > warm_up["explained_variance_before"]
        assert approach["metrics"]["critic_seconds"] == warm_up["seconds"] > 0
        report = approach["behaviour"]["report"]
        assert report["upright_fraction"] >= 0.95, (approach["name"], approach["behaviour"]["words"])
        assert min(report["traces"]["height"]) > 0.15, f"{approach['name']} collapsed"
    # The critic's warm-up is its own stage, not hidden in the start (the slowest trial's).
    stages = {s["name"]: s["seconds"] for s in job["stages"]}
    assert list(stages) == ["propose", "start", "critic", "compile", "train", "render", "composite"]
    assert stages["critic"] == max(a["metrics"]["critic_seconds"] for a in job["approaches"])
