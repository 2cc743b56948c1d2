"""The behaviour report: what a robot did in one rollout, as numbers (see `describe`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tabrl.behaviour.signals import Oscillation

UPRIGHT_COS = 0.5
"""Upright: the body's z-axis within 60 degrees of world up (cosine above 0.5)."""
CONTACT_DISTANCE = 0.002
"""A foot touches the floor when MuJoCo finds a contact between them closer than 2 mm
(contacts include a margin, so a foot hovering just above the floor is not touching)."""
TRACE_HZ = 10.0
"""Traces are kept at most at this rate: enough for a small plot, small in JSON."""

_REPORT = ConfigDict(frozen=True)


class JointMotion(BaseModel):
    """One 1-dof joint: `name` is its feature suffix (`pos_<name>` in the generic features)."""

    model_config = _REPORT

    name: str
    actuated: bool
    mean: float
    """Mean position (rad or m)."""
    offset: float
    """Mean position minus the home pose ("home" keyframe, else qpos0): what Go1's
    `<group>_angles` features measure."""
    mean_velocity: float
    rms_velocity: float
    oscillation: Oscillation | None


class FootMotion(BaseModel):
    model_config = _REPORT

    name: str
    duty_factor: float
    """Fraction of frames the foot touches the floor."""
    mean_height: float
    max_height: float
    oscillation: Oscillation | None
    """Of the foot's height."""


class Traces(BaseModel):
    """Decimated time series (at most `TRACE_HZ`), for a small plot. Angles in rad, lengths
    in m; a trace the model cannot have (roll of a planar model) is None."""

    model_config = _REPORT

    hz: float
    time: list[float]
    roll: list[float] | None = None
    pitch: list[float] | None = None
    yaw: list[float] | None = None
    sway: list[float] | None = None
    height: list[float]
    upright: list[float] | None = None


class BehaviourReport(BaseModel):
    """Physical descriptors of one rollout. Speeds are means over the rollout; "heading
    frame" is the body's x-axis projected on the floor (world x for models without a free
    joint). Descriptors a model cannot have are None (yaw of a planar cheetah, feet of a
    cart-pole)."""

    model_config = _REPORT

    family: str
    """The Playground family passed to `describe` (locomotion, dm_control_suite...)."""
    features: Literal["go1", "generic"]
    """The reward feature family the report's joints and feet line up with."""
    body: str
    """The main moving body: the body of the model's first joint (Go1's trunk, the cheetah's torso)."""
    floating_base: bool
    fps: float
    seconds: float
    frames: int

    upright_fraction: float | None
    """Fraction of frames with body z against world z above `UPRIGHT_COS`; None when the
    body cannot rotate."""
    upright_mean: float | None
    """Mean cosine of the body's tilt (Go1's `upright` feature)."""
    height_mean: float
    height_std: float
    home_height: float | None = None
    """The body's height in the model's home pose (its "home" keyframe) for a floating
    base, to say "crouches" or "stands tall"; None otherwise (and in older reports)."""
    forward_speed: float
    """Mean speed along the heading (m/s)."""
    sideways_speed: float
    """Mean speed to the heading's left (m/s)."""
    vertical_speed: float
    """Net height change over the rollout divided by its length (m/s)."""
    distance: float
    """Straight-line distance on the floor from the first frame to the last (m)."""
    path_length: float
    """Length of the path on the floor (m), sway included."""
    yaw_rate_mean: float | None
    total_turn: float | None
    """Unwrapped heading change from the first frame to the last (rad, positive: left)."""
    roll_mean: float | None
    pitch_mean: float | None

    roll: Oscillation | None
    pitch: Oscillation | None
    yaw: Oscillation | None
    """Of the detrended heading: wiggles, not steady turning."""
    sway: Oscillation | None
    """Of the sideways displacement in the heading frame, detrended."""
    height: Oscillation | None

    joint_rms_velocity: float
    """RMS over frames and actuated hinge joints (all hinges if none is actuated), rad/s."""
    joint_speed: float
    """Mean absolute velocity over all 1-dof joints (the `joint_speed` feature)."""
    joints: list[JointMotion]

    feet: list[FootMotion]
    """Empty for models without recognised feet."""
    airborne_fraction: float | None
    """Fraction of frames with no foot on the floor."""
    feet_in_contact_mean: float | None
    mean_air_time: float | None
    """Mean over frames and feet of the time since the foot last touched the floor (s)."""

    traces: Traces
