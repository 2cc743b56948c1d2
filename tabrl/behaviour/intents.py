"""Intent against outcome: did the behaviour do what each reward term asked for?

Thresholds (documented here, used by `judge`):

* oscillate (x swinging at f_t with amplitude A_t): **met** when the measured dominant
  frequency is within a factor 1.25 of f_t (either way: 1.2 to 1.875 Hz for 1.5 Hz) and
  the amplitude is at least 50% of A_t; **partly** within a factor 1.5 and at least 25%;
  else **not met** (half or double the frequency is not met). f_t is the term's frequency, or the
  spec's clock_hz when it is 0 (when both are 0 the term is judged as a track of its
  centre).
* track, and penalty on a motion or pose feature (x held near a target, tolerance tol):
  **met** when the mean is within tol/2 of the target, **partly** within 1.5 tol. (With a
  negative weight the term asks to stay away: met beyond 1.5 tol, partly beyond tol/2.)
* maximize and linear (more x, or less with a negative weight): with
  d = sign(weight) (mean - target) / tol, **met** when d >= 0.5, **partly** when d >= 0.
* the velocity command (joystick models): **met** when the mean body-frame velocity is
  within 0.15 m/s of the command and the mean yaw rate within 0.3 rad/s; **partly** within
  twice that.

Terms over effort, stability, task reward or the clock are not intents about motion or
pose and are left out. Expressions and features without a descriptor are "not measured".
"""

from __future__ import annotations

import functools
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tabrl.behaviour.measure import level, oscillation
from tabrl.behaviour.report import BehaviourReport
from tabrl.rewards.features import go1_catalog
from tabrl.rewards.spec import RewardSpec, Term

Status = Literal["met", "partly", "not met", "not measured"]
FREQUENCY_MET, FREQUENCY_PARTLY = 1.25, 1.5
AMPLITUDE_MET, AMPLITUDE_PARTLY = 0.5, 0.25
TRACK_MET, TRACK_PARTLY = 0.5, 1.5
COMMAND_SPEED, COMMAND_YAW = 0.15, 0.3
NOT_INTENTS = frozenset({
    "action_rate", "action_magnitude", "torque", "energy", "env_stability", "task_reward",
    "time", "clock_sin", "clock_cos",
})  # fmt: skip


class IntentResult(BaseModel):
    """One term's verdict. For oscillations target/measured are amplitudes, with the
    frequencies beside them; for the rest they are mean values."""

    model_config = ConfigDict(frozen=True)

    term: str
    kind: str
    feature: str | None = None
    weight: float = 0.0
    status: Status
    target: float | None = None
    measured: float | None = None
    target_frequency: float | None = None
    measured_frequency: float | None = None
    unit: str = ""
    details: dict[str, float] = Field(default_factory=dict)
    sentence: str


class IntentSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[IntentResult]
    met: int
    partly: int
    not_met: int
    not_measured: int
    main_term: str | None
    """The rewarding term with the largest weight (penalties and the command excluded)."""
    main_met: bool
    sentence: str


@functools.cache
def _go1_units() -> dict[str, str]:
    return {f.name: f.unit for f in go1_catalog()}


def _unit(feature: str) -> str:
    if feature in _go1_units():
        return "" if _go1_units()[feature] == "1" else _go1_units()[feature]
    if feature.startswith("root_velocity"):
        return "m/s"
    return {"root_height": "m", "joint_speed": "rad/s"}.get(feature, "")


def _grade(value: float, met: float, partly: float, larger_is_better: bool = True) -> Status:
    if larger_is_better:
        return "met" if value >= met else "partly" if value >= partly else "not met"
    return "met" if value <= met else "partly" if value <= partly else "not met"


def _num(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{x:.3g}{' ' + unit if unit else ''}"


def _judge_oscillation(term: Term, frequency: float, report: BehaviourReport, unit: str) -> IntentResult:
    common = dict(term=term.name, kind=term.kind, feature=term.feature, weight=term.weight, unit=unit,
                  target=term.amplitude, target_frequency=frequency)  # fmt: skip
    found = oscillation(term.feature, report)
    wanted = f"{term.feature} swinging {_num(term.amplitude, unit)} at {frequency:.3g} Hz"
    if found is None:
        return IntentResult(**common, status="not measured", sentence=f"{wanted}: not measured for this model")
    f_m, a_m = found
    amp_ratio = a_m / term.amplitude if term.amplitude > 0 else 1.0
    if f_m is None:
        status: Status = "not met"
    else:
        factor = max(f_m / frequency, frequency / f_m)
        if factor <= FREQUENCY_MET and amp_ratio >= AMPLITUDE_MET:
            status = "met"
        elif factor <= FREQUENCY_PARTLY and amp_ratio >= AMPLITUDE_PARTLY:
            status = "partly"
        else:
            status = "not met"
    got = "no oscillation" if f_m is None else f"{_num(a_m, unit)} at {f_m:.3g} Hz"
    return IntentResult(**common, status=status, measured=a_m, measured_frequency=f_m,
                        sentence=f"wanted {wanted}, measured {got}: {status}")  # fmt: skip


def _judge_level(term: Term, report: BehaviourReport, unit: str, target: float) -> IntentResult:
    common = dict(term=term.name, kind=term.kind, feature=term.feature, weight=term.weight, unit=unit, target=target)
    value = level(term.feature, report)
    if term.kind in ("maximize", "linear"):
        direction = "more" if term.weight >= 0 else "less"
        wanted = f"{direction} {term.feature} than {_num(target, unit)}"
    elif term.weight >= 0:
        wanted = f"{term.feature} near {_num(target, unit)} (tolerance {_num(term.tolerance, unit)})"
    else:
        wanted = f"{term.feature} away from {_num(target, unit)}"
    if value is None:
        return IntentResult(**common, status="not measured", sentence=f"wanted {wanted}: not measured for this model")
    if term.kind in ("maximize", "linear"):
        d = math.copysign(1.0, term.weight) * (value - target) / term.tolerance
        status = _grade(d, TRACK_MET, 0.0)
    else:
        err = abs(value - target) / term.tolerance
        if term.weight >= 0:
            status = _grade(err, TRACK_MET, TRACK_PARTLY, larger_is_better=False)
        else:
            status = _grade(err, TRACK_PARTLY, TRACK_MET)
    return IntentResult(**common, status=status, measured=value,
                        sentence=f"wanted {wanted}, measured {_num(value, unit)}: {status}")  # fmt: skip


def _command_values(command) -> tuple[float, float, float] | None:
    if command is None:
        return None
    if hasattr(command, "forward"):
        return float(command.forward), float(command.sideways), float(command.turn)
    forward, sideways, turn = (float(v) for v in command)
    return forward, sideways, turn


def _judge_command(command: tuple[float, float, float], report: BehaviourReport) -> IntentResult:
    forward, sideways, turn = command
    yaw = report.yaw_rate_mean
    details = {"command_forward": forward, "command_sideways": sideways, "command_turn": turn,
               "forward_speed": report.forward_speed, "sideways_speed": report.sideways_speed}  # fmt: skip
    wanted = f"command forward {forward:.3g}, sideways {sideways:.3g} m/s, turn {turn:.3g} rad/s"
    if yaw is None:
        return IntentResult(term="command", kind="command", status="not measured", details=details,
                            sentence=f"{wanted}: not measured for this model")  # fmt: skip
    details["yaw_rate"] = yaw
    speed_err = math.hypot(report.forward_speed - forward, report.sideways_speed - sideways)
    yaw_err = abs(yaw - turn)
    if speed_err <= COMMAND_SPEED and yaw_err <= COMMAND_YAW:
        status: Status = "met"
    elif speed_err <= 2 * COMMAND_SPEED and yaw_err <= 2 * COMMAND_YAW:
        status = "partly"
    else:
        status = "not met"
    got = f"{report.forward_speed:.2f}, {report.sideways_speed:.2f} m/s, {yaw:.2f} rad/s"
    return IntentResult(term="command", kind="command", status=status, target=forward,
                        measured=report.forward_speed, unit="m/s", details=details,
                        sentence=f"wanted {wanted}, measured {got}: {status}")  # fmt: skip


def judge(spec: RewardSpec, report: BehaviourReport, command=None) -> list[IntentResult]:
    """A verdict for every term of `spec` that asks for motion or pose, in spec order,
    then the velocity command (`command`, else the spec's own, if any). `command` is
    anything with forward/sideways/turn, or a (forward, sideways, turn) sequence."""
    results = []
    for term in spec.terms:
        if term.kind == "expression":
            results.append(IntentResult(term=term.name, kind=term.kind, weight=term.weight, status="not measured",
                                        sentence=f"{term.name}: a formula, not measured"))  # fmt: skip
            continue
        if term.feature in NOT_INTENTS:
            continue
        unit = _unit(term.feature)
        frequency = term.frequency or spec.clock_hz
        if term.kind == "oscillate" and frequency > 0:
            results.append(_judge_oscillation(term, frequency, report, unit))
        else:
            results.append(_judge_level(term, report, unit, term.target))
    values = _command_values(command if command is not None else getattr(spec, "command", None))
    if values is not None:
        results.append(_judge_command(values, report))
    return results


def summarize(spec: RewardSpec, results: list[IntentResult]) -> IntentSummary:
    """Counts, and whether the main intent (the heaviest rewarding term) was met."""
    counts = {s: sum(r.status == s for r in results) for s in ("met", "partly", "not met", "not measured")}
    weights = {t.name: t.weight for t in spec.terms}
    candidates = [r for r in results if r.kind not in ("penalty", "command") and weights.get(r.term, 0) > 0]
    main = max(candidates, key=lambda r: weights[r.term], default=None)
    judged = len(results) - counts["not measured"]
    sentence = f"{counts['met']} of {judged} intents met"
    if counts["partly"]:
        sentence += f", {counts['partly']} partly"
    if main is not None:
        sentence += f" (main: {main.term} {main.status})"
    return IntentSummary(results=results, met=counts["met"], partly=counts["partly"], not_met=counts["not met"],
                         not_measured=counts["not measured"], main_term=main.term if main else None,
                         main_met=main is not None and main.status == "met", sentence=sentence)  # fmt: skip
