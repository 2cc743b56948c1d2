"""GPU placement of the trials and the Ray-job entry point (`python -m tabrl_cli train`) (no GPU, no training)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tune_jobs.batch import gpus_per_trial, trial_resources

REPO = Path(__file__).resolve().parents[1]


def test_one_gpu_per_trial_on_a_gpu_cluster():
    assert trial_resources({"CPU": 192, "GPU": 8}, 3) == {"cpu": 1, "gpu": 1.0}


def test_cpu_share_without_gpus():
    assert trial_resources({"CPU": 2}, 3) == {"cpu": 0.66}  # all three fit in 2 CPUs at once
    assert trial_resources({"CPU": 2, "GPU": 8}, 3, gpus=0) == {"cpu": 0.66}
    for cpus in (1, 2, 3, 4, 7, 16):
        assert 3 * trial_resources({"CPU": cpus}, 3)["cpu"] <= cpus


def test_configured_fraction_packs_three_trials_on_one_gpu():
    share = trial_resources({"CPU": 16, "GPU": 1}, 3, gpus_per_trial({"TABRL_GPUS_PER_TRIAL": "0.33"}))
    assert share == {"cpu": 1, "gpu": 0.33}
    assert 3 * share["gpu"] <= 1


def test_configured_gpus_are_asked_for_before_a_gpu_node_is_up():
    """On an autoscaling cluster the GPU workers start at zero: the demand starts them."""
    assert trial_resources({"CPU": 16}, 3, gpus=1.0) == {"cpu": 1, "gpu": 1.0}


@pytest.mark.parametrize("text, expected", [("", None), ("0", 0.0), ("0.33", 0.33), ("1", 1.0), ("2", 2.0)])
def test_gpus_per_trial_parsing(text, expected):
    assert gpus_per_trial({"TABRL_GPUS_PER_TRIAL": text}) == expected


@pytest.mark.parametrize("text", ["-1", "1.5", "lots"])
def test_gpus_per_trial_rejects_nonsense(text):
    with pytest.raises(ValueError, match="TABRL_GPUS_PER_TRIAL"):
        gpus_per_trial({"TABRL_GPUS_PER_TRIAL": text})


def test_ray_job_entry_point_help_and_bad_model():
    run = lambda *args: subprocess.run([sys.executable, "-m", "tabrl_cli", "train", *args],  # noqa: E731
                                       cwd=REPO, capture_output=True, text=True, timeout=300)
    shown = run("--help")
    assert shown.returncode == 0 and "--model" in shown.stdout and "--steps" in shown.stdout
    bad = run("--model", "NoSuchRobot", "--prompt", "walk", "--steps", "20000")
    assert bad.returncode == 2
    assert "NoSuchRobot" in bad.stderr and "Traceback" not in bad.stderr
