"""The Quick / Standard / Quality step budgets, per model family and per starting point.

One table for the UI's buttons and `tabrl train --preset`. The times shown beside
them come from throughput measured on the cluster (the API's estimates), never
from here.

From scratch, a cartpole learns a lot in 20k steps; a quadruped or an arm needs
more per visible change but costs ~200x more per step on a CPU, so its presets
are smaller. Fine-tuning a base policy (the Go1's) is another matter: the robot
already walks where the approach's command says, and the steps buy style. On 2
cores three Go1 trials share about 2.5k env-steps/s (see BENCHMARKS.md), so
Standard (200k steps each) is a few minutes of learning.
"""

from __future__ import annotations

PRESET_NAMES = ("Quick", "Standard", "Quality")

_FROM_SCRATCH: dict[str, dict[str, int]] = {
    "dm_control_suite": {"Quick": 20_000, "Standard": 100_000, "Quality": 500_000},
    "locomotion": {"Quick": 10_000, "Standard": 50_000, "Quality": 200_000},
    "manipulation": {"Quick": 10_000, "Standard": 50_000, "Quality": 200_000},
}
_FINE_TUNE: dict[str, int] = {"Quick": 50_000, "Standard": 200_000, "Quality": 1_000_000}


def presets(family: str, fine_tune: bool) -> dict[str, int]:
    """Preset name -> env steps per approach."""
    if fine_tune:
        return dict(_FINE_TUNE)
    return dict(_FROM_SCRATCH.get(family, _FROM_SCRATCH["dm_control_suite"]))


def preset_steps(name: str, family: str, fine_tune: bool) -> int:
    table = presets(family, fine_tune)
    match = {k.lower(): v for k, v in table.items()}.get(name.lower())
    if match is None:
        raise ValueError(f"unknown preset {name!r}: choose {', '.join(PRESET_NAMES)}")
    return match
