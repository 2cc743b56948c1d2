"""How distinct behaviours are, and a behaviour in plain words."""

from __future__ import annotations

import itertools
import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from tabrl.behaviour.report import BehaviourReport
from tabrl.behaviour.signals import Oscillation

# Each descriptor is divided by its scale: a difference of one scale is a difference a
# person can see in a video. Missing descriptors (a planar model's roll) count as 0.
LEVEL_SCALES = {
    "forward_speed": 0.2,  # m/s
    "sideways_speed": 0.2,  # m/s
    "yaw_rate_mean": 0.5,  # rad/s
    "height_mean": 0.03,  # m
    "upright_fraction": 0.2,
    "joint_rms_velocity": 1.0,  # rad/s
    "duty_factor": 0.2,  # mean over feet
}
OSCILLATION_SCALES = {"roll": 0.05, "pitch": 0.05, "yaw": 0.2, "sway": 0.02, "height": 0.02}
"""Amplitude scales (rad, rad, rad, m, m). An oscillation also adds its frequency / 1 Hz,
weighted by min(1, amplitude / scale), so that the frequency of a barely visible wobble
does not count."""
FREQUENCY_SCALE = 1.0
DISTINCT = 1.0
"""Two behaviours are distinct when their distance is at least 1: one scale apart in one
descriptor (or a little in several)."""


def descriptor_vector(report: BehaviourReport) -> dict[str, float]:
    """The scaled descriptors that `distinctness` compares."""
    vector = {}
    for name, scale in LEVEL_SCALES.items():
        if name == "duty_factor":
            value = float(np.mean([f.duty_factor for f in report.feet])) if report.feet else 0.0
        else:
            value = getattr(report, name) or 0.0
        vector[name] = value / scale
    for name, scale in OSCILLATION_SCALES.items():
        osc: Oscillation | None = getattr(report, name)
        amplitude = osc.amplitude / scale if osc else 0.0
        vector[f"{name}_amplitude"] = amplitude
        vector[f"{name}_frequency"] = osc.frequency / FREQUENCY_SCALE * min(1.0, amplitude) if osc else 0.0
    return vector


class PairDistance(BaseModel):
    model_config = ConfigDict(frozen=True)

    first: int
    second: int
    distance: float
    largest: list[str]
    """The descriptors that differ most, largest first (up to three)."""


class Distinctness(BaseModel):
    model_config = ConfigDict(frozen=True)

    pairs: list[PairDistance]
    minimum: float
    closest: tuple[int, int]
    distinct: bool
    """Every pair at least `DISTINCT` apart."""


def distinctness(reports: list[BehaviourReport]) -> Distinctness:
    """Euclidean distance between scaled descriptor vectors, for every pair of reports."""
    if len(reports) < 2:
        raise ValueError("distinctness needs at least two reports")
    vectors = [descriptor_vector(r) for r in reports]
    pairs = []
    for i, j in itertools.combinations(range(len(reports)), 2):
        diffs = {k: abs(vectors[i][k] - vectors[j][k]) for k in vectors[i]}
        distance = math.sqrt(sum(d * d for d in diffs.values()))
        largest = [k for k in sorted(diffs, key=diffs.get, reverse=True)[:3] if diffs[k] > 0.1]
        pairs.append(PairDistance(first=i, second=j, distance=round(distance, 4), largest=largest))
    closest = min(pairs, key=lambda p: p.distance)
    return Distinctness(pairs=pairs, minimum=closest.distance, closest=(closest.first, closest.second),
                        distinct=closest.distance >= DISTINCT)  # fmt: skip


# --- plain words --------------------------------------------------------------------

VISIBLE = {"sway": 0.01, "height": 0.01, "roll": 0.04, "pitch": 0.04, "yaw": 0.08}
"""Oscillations smaller than this (m or rad) are not mentioned."""
MIN_SHARE = 0.3
"""Nor are those that explain less than 30% of their signal's motion (noise, a fall)."""


def _visible(osc: Oscillation | None, name: str) -> bool:
    return osc is not None and osc.amplitude >= VISIBLE[name] and osc.share >= MIN_SHARE


POSTURE_HEIGHT = 0.04
"""m from the home pose's body height before a held posture is worth a word."""
POSTURE_TILT = 0.1
"""rad of mean pitch or roll before a held tilt is worth a word."""


def plain_words(report: BehaviourReport) -> str:
    """One sentence for a video card: "sways its hips 4 cm at 1.4 Hz, stays upright 100%, travels 0.1 m"."""
    legged = len(report.feet) >= 2
    parts = []
    if legged and report.home_height is not None and abs(report.height_mean - report.home_height) >= POSTURE_HEIGHT:
        change = (report.height_mean - report.home_height) * 100
        parts.append(f"crouches {-change:.0f} cm low" if change < 0 else f"stands {change:.0f} cm tall")
    if legged and report.pitch_mean is not None and abs(report.pitch_mean) >= POSTURE_TILT:
        degrees = math.degrees(abs(report.pitch_mean))
        parts.append(f"bows, nose down {degrees:.0f}°" if report.pitch_mean > 0 else f"sits back, nose up {degrees:.0f}°")
    if legged and report.roll_mean is not None and abs(report.roll_mean) >= POSTURE_TILT:
        parts.append(f"leans {math.degrees(abs(report.roll_mean)):.0f}° to its {'right' if report.roll_mean > 0 else 'left'}")
    if _visible(report.sway, "sway"):
        what = "its hips" if legged else "side to side"
        parts.append(f"sways {what} {report.sway.amplitude * 100:.0f} cm at {report.sway.frequency:.1f} Hz")
    if _visible(report.roll, "roll"):
        parts.append(f"rolls {math.degrees(report.roll.amplitude):.0f}° at {report.roll.frequency:.1f} Hz")
    if _visible(report.pitch, "pitch"):
        parts.append(f"rocks nose up and down {math.degrees(report.pitch.amplitude):.0f}° "
                     f"at {report.pitch.frequency:.1f} Hz")  # fmt: skip
    if _visible(report.height, "height"):
        parts.append(f"bobs {report.height.amplitude * 100:.0f} cm at {report.height.frequency:.1f} Hz")
    if _visible(report.yaw, "yaw"):
        parts.append(f"wiggles {math.degrees(report.yaw.amplitude):.0f}° left and right "
                     f"at {report.yaw.frequency:.1f} Hz")  # fmt: skip
    if report.total_turn is not None and abs(report.total_turn) >= 0.5:
        side = "left" if report.total_turn > 0 else "right"
        parts.append(f"turns {math.degrees(abs(report.total_turn)):.0f}° {side}")
    if abs(report.forward_speed) >= 0.1:
        way = "forward" if report.forward_speed > 0 else "backward"
        parts.append(f"moves {way} at {abs(report.forward_speed):.1f} m/s")
    if report.upright_fraction is not None:
        if report.upright_fraction >= 0.995:
            parts.append("stays upright 100%")
        else:
            parts.append(f"is upright {report.upright_fraction * 100:.0f}% of the time")
    if legged and report.airborne_fraction is not None and report.airborne_fraction >= 0.05:
        parts.append(f"is in the air {report.airborne_fraction * 100:.0f}% of the time")
    parts.append(f"travels {report.distance:.1f} m")
    if not legged and not report.floating_base:
        parts.append(f"joints move at {report.joint_rms_velocity:.1f} rad/s RMS")
    return ", ".join(parts)
