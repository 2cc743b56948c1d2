"""An approach's behaviour, measured from its video's own rollout, beside a reference.

The reference is what the robot does without the approach: the model's base
policy under the same command (what a fine-tune started from), or zero actions
where the model has none. "What changed" lists the descriptors that moved by
at least half of their `tabrl.behaviour.compare` scale (a difference a person
can see), largest first.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tabrl.behaviour import (
    BehaviourReport, Distinctness, IntentSummary, descriptor_vector, distinctness, judge, plain_words, summarize,
)
from tabrl.behaviour.compare import LEVEL_SCALES, OSCILLATION_SCALES

log = logging.getLogger("tabrl.behaviour")
ReferenceKind = Literal["base policy", "zero action"]
CHANGE_SHOWN = 0.5
"""A descriptor is mentioned as changed when it moved by at least half its scale."""

# descriptor -> (words, factor to the shown unit, unit)
_CHANGE_WORDS = {
    "forward_speed": ("forward speed", 1.0, " m/s"),
    "sideways_speed": ("sideways speed", 1.0, " m/s"),
    "yaw_rate_mean": ("turn rate", 1.0, " rad/s"),
    "height_mean": ("height", 100.0, " cm"),
    "upright_fraction": ("time upright", 100.0, " points"),
    "joint_rms_velocity": ("joint motion", 1.0, " rad/s RMS"),
    "duty_factor": ("feet on the floor", 100.0, " points"),
    "roll_amplitude": ("roll", math.degrees(1.0), "°"),
    "pitch_amplitude": ("pitch rocking", math.degrees(1.0), "°"),
    "yaw_amplitude": ("yaw wiggle", math.degrees(1.0), "°"),
    "sway_amplitude": ("hip sway", 100.0, " cm"),
    "height_amplitude": ("bobbing", 100.0, " cm"),
}
_SCALES = {**LEVEL_SCALES, **{f"{k}_amplitude": v for k, v in OSCILLATION_SCALES.items()}}


class ApproachBehaviour(BaseModel):
    """What one approach's policy did in its video, judged against its reward spec."""

    model_config = ConfigDict(frozen=True)

    report: BehaviourReport
    words: str
    """`plain_words(report)`: "sways its hips 4 cm at 1.4 Hz, stays upright 100%, travels 0.1 m"."""
    intents: IntentSummary | None = None
    """Each motion or pose term against what was measured; None for a checkpoint without a spec."""
    reference_policy: ReferenceKind | None = None
    reference: BehaviourReport | None = None
    reference_words: str | None = None
    changed: list[str] = []
    """What changed against the reference, largest first ("hip sway +3 cm")."""


def what_changed(report: BehaviourReport, reference: BehaviourReport) -> list[str]:
    """The descriptors that moved by at least `CHANGE_SHOWN` of their scale, in words."""
    now, before = descriptor_vector(report), descriptor_vector(reference)
    moved = []
    for name, (words, factor, unit) in _CHANGE_WORDS.items():
        scaled = now.get(name, 0.0) - before.get(name, 0.0)
        if abs(scaled) >= CHANGE_SHOWN:
            delta = scaled * _SCALES[name] * factor
            moved.append((abs(scaled), f"{words} {delta:+.{0 if abs(delta) >= 10 else 1}f}{unit}"))
    return [text for _, text in sorted(moved, key=lambda m: -m[0])]


def approach_behaviour(model, states: dict, fps: float, family: str, spec=None,
                       reference_states: dict | None = None,
                       reference_policy: ReferenceKind | None = None) -> ApproachBehaviour:
    """Describe `states` (as `tabrl.rendering.rollout_states` records them), judge them against
    `spec` (a `RewardSpec`, or None), and compare them with the reference's states."""
    from tabrl.behaviour import describe

    report = describe(model, states, fps, family)
    intents = summarize(spec, judge(spec, report)) if spec is not None else None
    reference = describe(model, reference_states, fps, family) if reference_states is not None else None
    return ApproachBehaviour(
        report=report, words=plain_words(report), intents=intents,
        reference_policy=reference_policy if reference is not None else None, reference=reference,
        reference_words=plain_words(reference) if reference is not None else None,
        changed=what_changed(report, reference) if reference is not None else [],
    )


def batch_distinctness(behaviours: list[ApproachBehaviour | None]) -> Distinctness | None:
    """How distinct the measured approaches of a batch are (None with fewer than two)."""
    reports = [b.report for b in behaviours if b is not None]
    return distinctness(reports) if len(reports) >= 2 else None


def format_behaviour(name: str, behaviour: ApproachBehaviour) -> str:
    """The report as a few lines of text (`tabrl measure`, the CLI's summary)."""
    lines = [f"{name}: {behaviour.words}"]
    if behaviour.intents is not None:
        lines.append(f"  intents: {behaviour.intents.sentence}")
        lines.extend(f"    - {r.term}: {r.sentence}" for r in behaviour.intents.results)
    if behaviour.reference is not None:
        lines.append(f"  the {behaviour.reference_policy}, same command: {behaviour.reference_words}")
        lines.append("  what changed: " + (", ".join(behaviour.changed) or "nothing a person would see"))
    return "\n".join(lines)


def reference_rows(model_id: str, rows: list) -> tuple[list, ReferenceKind]:
    """Each row's reference: the model's base policy under the row's controls, or the row's own
    policy with zero actions where the model has no base policy (or it cannot be read)."""
    import dataclasses

    from tabrl.catalog import base_policy_dir
    from tabrl.policy_rollout import checkpoint_row

    base = base_policy_dir(model_id)
    if base is not None:
        try:
            return [checkpoint_row(base, controls=row.controls) for row in rows], "base policy"
        except (OSError, ValueError) as error:
            log.warning("the base policy of %s cannot be read (%s): zero actions as the reference",
                        model_id, error)
    return [dataclasses.replace(row, zero_action=True) for row in rows], "zero action"


def measure_checkpoint(checkpoint, seconds: float = 10.0, fps: int = 30, seed: int = 0) -> ApproachBehaviour:
    """The report of a checkpoint's video rollout (same seed and length as its video), beside
    its reference (`tabrl measure`)."""
    from pathlib import Path

    from tabrl.playground import family_by_model
    from tabrl.policy_rollout import checkpoint_row, mj_model, rollout_rows
    from tabrl.rewards.spec import RewardSpec

    row = checkpoint_row(Path(checkpoint))
    model_id = row.meta["model_id"]
    (reference,), kind = reference_rows(model_id, [row])
    states, reference_states = rollout_rows(model_id, [row, reference], seconds=seconds, fps=fps, seed=seed)
    spec = RewardSpec.model_validate(row.meta["reward"]) if row.meta.get("reward") else None
    return approach_behaviour(mj_model(model_id), states, fps, family_by_model()[model_id], spec,
                              reference_states=reference_states, reference_policy=kind)
