"""What a report measured for a reward feature: its mean level, or its oscillation.

A reward term names a feature (`tabrl.rewards.features`); this maps the feature to the
report's descriptor in the feature's own unit. Group features (hip_angles, foot_heights...)
are measured per element and combined: levels are averaged (velocity groups as an RMS),
oscillations take the largest element's frequency and the mean amplitude. An oscillation
of a rate feature (yaw_rate, lateral_velocity...) is read from the oscillation of the
angle or displacement it is the rate of, its amplitude times 2 pi f.
"""

from __future__ import annotations

import math

import numpy as np

from tabrl.behaviour.report import BehaviourReport
from tabrl.rewards.features import GO1_FOOT_GROUPS, GO1_JOINT_GROUPS, GO1_LEGS

# feature -> report field holding its mean over the rollout
_LEVELS = {
    "base_height": "height_mean", "root_height": "height_mean",
    "forward_velocity": "forward_speed", "root_velocity_x": "forward_speed",
    "lateral_velocity": "sideways_speed", "root_velocity_y": "sideways_speed",
    "vertical_velocity": "vertical_speed", "root_velocity_z": "vertical_speed",
    "yaw_rate": "yaw_rate_mean", "roll": "roll_mean", "pitch": "pitch_mean",
    "upright": "upright_mean", "root_upright": "upright_mean", "joint_speed": "joint_speed",
    "airborne": "airborne_fraction", "feet_in_contact": "feet_in_contact_mean",
    "feet_air_time": "mean_air_time",
}  # fmt: skip
# feature -> (report oscillation field, a field that is None when the model cannot have
# it (then: not measured), whether the feature is the rate of that signal)
_OSCILLATIONS = {
    "roll": ("roll", "roll_mean", False), "pitch": ("pitch", "pitch_mean", False),
    "base_height": ("height", "height_mean", False), "root_height": ("height", "height_mean", False),
    "roll_rate": ("roll", "roll_mean", True), "pitch_rate": ("pitch", "pitch_mean", True),
    "yaw_rate": ("yaw", "total_turn", True), "lateral_velocity": ("sway", "total_turn", True),
    "vertical_velocity": ("height", "height_mean", True), "root_velocity_z": ("height", "height_mean", True),
}  # fmt: skip


def _joint_indices(feature: str, report: BehaviourReport) -> tuple[list[int], str] | None:
    """(indices into report.joints, "angle" | "velocity") for a joint feature, else None."""
    names = [j.name for j in report.joints]
    if report.features == "go1":
        for suffix, kind in (("_angles", "angle"), ("_velocities", "velocity")):
            group = feature.removesuffix(suffix)
            if feature.endswith(suffix) and group in GO1_JOINT_GROUPS:
                return GO1_JOINT_GROUPS[group], kind
    if feature in ("joint_positions", "joint_velocities") and names:
        return list(range(len(names))), "angle" if feature == "joint_positions" else "velocity"
    for prefix, kind in (("pos_", "angle"), ("vel_", "velocity")):
        if feature.startswith(prefix) and feature[len(prefix):] in names:
            return [names.index(feature[len(prefix):])], kind
    return None


def _foot_indices(feature: str, report: BehaviourReport) -> list[int] | None:
    if report.features != "go1" or feature not in GO1_FOOT_GROUPS:
        return None
    by_name = {f.name: i for i, f in enumerate(report.feet)}
    return [by_name[GO1_LEGS[i]] for i in GO1_FOOT_GROUPS[feature]]


def level(feature: str, report: BehaviourReport) -> float | None:
    """The feature's mean over the rollout, or None when the report has no descriptor for it."""
    if feature in _LEVELS:
        return getattr(report, _LEVELS[feature])
    if feature == "foot_contacts" and report.feet:
        return float(np.mean([f.duty_factor for f in report.feet]))
    joints = _joint_indices(feature, report)
    if joints is not None:
        idx, kind = joints
        items = [report.joints[i] for i in idx]
        if feature.startswith("vel_"):
            return items[0].mean_velocity
        if kind == "velocity":  # a group: its size, as penalties and maximize read it
            return float(np.sqrt(np.mean([j.rms_velocity**2 for j in items])))
        go1_angles = report.features == "go1" and feature.endswith("_angles")  # offsets from home
        return float(np.mean([j.offset if go1_angles else j.mean for j in items]))
    feet = _foot_indices(feature, report)
    if feet is not None:
        return float(np.mean([report.feet[i].mean_height for i in feet]))
    return None


def oscillation(feature: str, report: BehaviourReport) -> tuple[float | None, float] | None:
    """(frequency in Hz, amplitude in the feature's unit) of the feature's dominant
    oscillation; frequency None and amplitude 0 when the signal is flat; None when the
    report has no descriptor for the feature."""
    if feature in _OSCILLATIONS:
        field, level_field, rate = _OSCILLATIONS[feature]
        if getattr(report, level_field) is None:
            return None
        found = getattr(report, field)
        items = [found]
    else:
        joints = _joint_indices(feature, report)
        feet = _foot_indices(feature, report)
        if joints is not None:
            idx, kind = joints
            items, rate = [report.joints[i].oscillation for i in idx], kind == "velocity"
        elif feet is not None:
            items, rate = [report.feet[i].oscillation for i in feet], False
        else:
            return None
    present = [o for o in items if o is not None]
    if not present:
        return None, 0.0
    strongest = max(present, key=lambda o: o.amplitude)
    amplitudes = [o.amplitude * (2 * math.pi * o.frequency if rate else 1.0) for o in present]
    return strongest.frequency, float(sum(amplitudes) / len(items))
