"""Reward specs: the data a proposer returns and the trainer compiles.

A spec is a short list of named terms over a robot family's features (see
`tabrl.rewards.features`). Each term has a *kind* that says how a feature
becomes a score, and a weight that scales the score; the reward at a control
step is the sum of `weight * score` over the terms (`TERM_KINDS_DOC`). All
numbers have documented bounds, enforced here; whether a feature exists and
whether a target fits its range is checked against a model in
`tabrl.rewards.validate`.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TermKind = Literal["track", "oscillate", "maximize", "penalty", "linear", "expression"]
SLOT_KINDS: tuple[str, ...] = ("track", "oscillate", "maximize", "penalty", "linear")
"""The kinds computed in the canonical per-family layout (everything but expressions)."""

MAX_TERMS = 12
MAX_EXPRESSION_CHARS = 300
TERM_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
SCORE_BOUND = 25.0
"""No term's score leaves [-SCORE_BOUND, SCORE_BOUND]; with |weight| <= 10 and at most
12 terms, the reward is bounded by 3000 at every step."""

TERM_KINDS_DOC = """Term kinds (x is the feature; group features are scored per element and averaged):
  track       exp(-((x - target) / tolerance)^2), in (0, 1]: hold x near target
  oscillate   like track, with a moving target: target + amplitude * sin(2 pi frequency t + phase),
              in (0, 1]; frequency 0 uses the spec's clock_hz
  maximize    tanh((x - target) / tolerance), in (-1, 1): more x is better (negative weight: less)
  penalty     -min(((x - target) / tolerance)^2, 25), in [-25, 0]: use a positive weight
  linear      clip((x - target) / tolerance, -10, 10)
  expression  a sandboxed formula (see tabrl.rewards.sandbox), clipped to [-10, 10]
"""

def field_range(model: type, field: str) -> tuple[float, float]:
    """(low, high) of a numeric pydantic field, from its ge/le constraints: an input's bounds
    in the UI, the clip that keeps a moved number valid."""
    low, high = -math.inf, math.inf
    for item in model.model_fields[field].metadata:
        low = getattr(item, "ge", None) if getattr(item, "ge", None) is not None else low
        high = getattr(item, "le", None) if getattr(item, "le", None) is not None else high
    return float(low), float(high)


_FROZEN = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Term(BaseModel):
    """One named reward term."""

    model_config = _FROZEN

    name: str = Field(
        pattern=TERM_NAME_PATTERN,
        description="snake_case, unique within the spec; shown in the UI and logged as reward/<name>",
    )
    kind: TermKind = Field(description="how the feature becomes a score (see the term catalogue)")
    feature: str | None = Field(
        default=None, description="feature name from the model's feature list; not for expressions"
    )
    expression: str | None = Field(
        default=None,
        max_length=MAX_EXPRESSION_CHARS,
        description="only for kind 'expression': a formula over feature names and jnp math",
    )
    weight: float = Field(default=1.0, ge=-10.0, le=10.0, description="multiplies the score")
    target: float = Field(default=0.0, ge=-100.0, le=100.0, description="feature value aimed at, in the feature's unit")
    tolerance: float = Field(
        default=1.0, ge=1e-3, le=100.0, description="how far from the target still scores well, feature unit"
    )
    frequency: float = Field(default=0.0, ge=0.0, le=5.0, description="Hz, for oscillate; 0 uses clock_hz")
    amplitude: float = Field(default=0.0, ge=0.0, le=100.0, description="oscillation half-range, feature unit")
    phase: float = Field(default=0.0, ge=-2 * math.pi, le=2 * math.pi, description="radians, oscillation offset")

    @model_validator(mode="after")
    def _feature_or_expression(self) -> Term:
        if self.kind == "expression":
            if not self.expression or not self.expression.strip():
                raise ValueError(f"term {self.name!r}: kind 'expression' needs an expression")
            if self.feature is not None:
                raise ValueError(f"term {self.name!r}: an expression term takes no feature")
        else:
            if not self.feature:
                raise ValueError(f"term {self.name!r}: kind {self.kind!r} needs a feature")
            if self.expression is not None:
                raise ValueError(f"term {self.name!r}: only kind 'expression' takes an expression")
        return self


def _in_words(held: list[tuple[float, str]], swings: list[tuple[float, str]], beat_hz: float, idle: str) -> str:
    """The held parts, then the swings on their beat, each shown when its number is not zero."""
    parts = [text for value, text in held if value]
    shown = [text for value, text in swings if value]
    if shown:
        parts.append(f"{', '.join(shown)} at {beat_hz:g} Hz")
    return ", ".join(parts) or idle


COMMAND_LIMITS = {"forward": 1.5, "sideways": 0.8, "turn": 1.2}
"""The joystick models' command range (Playground's `command_config.a` for Go1): the base
policies were trained on commands within it."""


class Command(BaseModel):
    """The velocity command a joystick model's base policy follows, for the whole episode.

    A held part (`forward`, `sideways`, `turn`), plus an optional rhythm: the command
    swings by `rock` (forward), `sway` (sideways) and `twist` (turn) as
    `sin(2 pi beat_hz t)`. The base policy walks where the command says, so a held
    command makes it stand, walk or turn from the first step, and a rhythmic one makes
    it shuffle side to side, rock or wiggle on the beat; the reward adds the style."""

    model_config = _FROZEN

    forward: float = Field(default=0.0, ge=-COMMAND_LIMITS["forward"], le=COMMAND_LIMITS["forward"],
                           description="m/s along the body's heading (negative: backwards)")
    sideways: float = Field(default=0.0, ge=-COMMAND_LIMITS["sideways"], le=COMMAND_LIMITS["sideways"],
                            description="m/s to the body's left (negative: right)")
    turn: float = Field(default=0.0, ge=-COMMAND_LIMITS["turn"], le=COMMAND_LIMITS["turn"],
                        description="rad/s, counter-clockwise seen from above (negative: clockwise)")
    rock: float = Field(default=0.0, ge=0.0, le=COMMAND_LIMITS["forward"],
                        description="m/s: the forward command swings this much either way on the beat")
    sway: float = Field(default=0.0, ge=0.0, le=COMMAND_LIMITS["sideways"],
                        description="m/s: the sideways command swings this much either way on the beat")
    twist: float = Field(default=0.0, ge=0.0, le=COMMAND_LIMITS["turn"],
                         description="rad/s: the turn command swings this much either way on the beat")
    beat_hz: float = Field(default=0.5, ge=0.1, le=2.0, description="Hz of the swings (rock, sway, twist)")

    @model_validator(mode="after")
    def _within_range(self) -> Command:
        for held, swing in (("forward", "rock"), ("sideways", "sway"), ("turn", "twist")):
            if abs(getattr(self, held)) + getattr(self, swing) > COMMAND_LIMITS[held] + 1e-9:
                raise ValueError(f"command {held} {getattr(self, held):g} with {swing} {getattr(self, swing):g} "
                                 f"leaves the range the base policy learned (|{held}| + {swing} <= "
                                 f"{COMMAND_LIMITS[held]:g})")
        return self

    def as_array(self) -> list[float]:
        return [self.forward, self.sideways, self.turn]

    def swing_array(self) -> list[float]:
        return [self.rock, self.sway, self.twist]

    def describe(self) -> str:
        """In words, for the approach card: "stand in place", "forward 0.3 m/s, sway ±0.3 m/s at 0.5 Hz"."""
        return _in_words(
            [(self.forward, f"{'forward' if self.forward > 0 else 'backward'} {abs(self.forward):g} m/s"),
             (self.sideways, f"{'left' if self.sideways > 0 else 'right'} {abs(self.sideways):g} m/s"),
             (self.turn, f"turn {'left' if self.turn > 0 else 'right'} {abs(self.turn):g} rad/s")],
            [(self.rock, f"rock ±{self.rock:g} m/s"), (self.sway, f"sway ±{self.sway:g} m/s"),
             (self.twist, f"twist ±{self.twist:g} rad/s")],
            self.beat_hz, "stand in place")


POSE_LIMITS = {"height": (-0.1, 0.04), "pitch": (-0.4, 0.3), "roll": (-0.3, 0.3)}
"""How far `Pose` shifts Go1's standing pose. The base policy stays on its feet within
these (measured: 10-s rollouts, upright 100% at each end); nose down 0.35 rad tips it over."""


class Pose(BaseModel):
    """A posture for a legged model whose base policy stands on a nominal joint pose (Go1):
    held for the episode (`height`, `pitch`, `roll`), plus an optional swing on the beat
    (`bob`, `nod`, and `hips`: the hip joints all swinging the same way, which rolls and
    sways the body). The numbers shift the joint pose; the base policy balances around
    it (`tabrl.pose`) and so follows part of a tilt (`tabrl.rewards.library.POSE_FOLLOW`)."""

    model_config = _FROZEN

    height: float = Field(default=0.0, ge=POSE_LIMITS["height"][0], le=POSE_LIMITS["height"][1],
                          description="m: body height change from standing (negative: crouch)")
    pitch: float = Field(default=0.0, ge=POSE_LIMITS["pitch"][0], le=POSE_LIMITS["pitch"][1],
                         description="rad: nose down (negative: nose up)")
    roll: float = Field(default=0.0, ge=POSE_LIMITS["roll"][0], le=POSE_LIMITS["roll"][1],
                        description="rad: left side up (negative: right side up)")
    bob: float = Field(default=0.0, ge=0.0, le=0.05, description="m: the height swings this much either way")
    nod: float = Field(default=0.0, ge=0.0, le=0.3, description="rad: the pitch swings this much either way")
    hips: float = Field(default=0.0, ge=0.0, le=0.35,
                        description="rad: the hip joints swing this much either way, together")
    beat_hz: float = Field(default=1.0, ge=0.1, le=3.0, description="Hz of the swings")

    @model_validator(mode="after")
    def _within_range(self) -> Pose:
        for held, swing in (("height", "bob"), ("pitch", "nod")):
            low, high = POSE_LIMITS[held]
            value, amplitude = getattr(self, held), getattr(self, swing)
            if value - amplitude < low - 1e-9 or value + amplitude > high + 1e-9:
                raise ValueError(f"pose {held} {value:g} with {swing} {amplitude:g} leaves [{low:g}, {high:g}]")
        return self

    def is_neutral(self) -> bool:
        return round(abs(self.height) * 100) < 1 and not any((self.pitch, self.roll, self.bob, self.nod, self.hips))

    def describe(self) -> str:
        """In words, for the approach card: "crouch 8 cm, bob ±3 cm at 2 Hz"."""
        return _in_words(
            [(round(abs(self.height) * 100), f"{'crouch' if self.height < 0 else 'rise'} {abs(self.height) * 100:.0f} cm"),
             (self.pitch, f"nose {'down' if self.pitch > 0 else 'up'} {math.degrees(abs(self.pitch)):.0f}°"),
             (self.roll, f"tilt {'right' if self.roll > 0 else 'left'} {math.degrees(abs(self.roll)):.0f}°")],
            [(self.bob, f"bob ±{self.bob * 100:.0f} cm"), (self.nod, f"nod ±{math.degrees(self.nod):.0f}°"),
             (self.hips, f"hips ±{math.degrees(self.hips):.0f}°")],
            self.beat_hz, "standing pose")


class RewardSpec(BaseModel):
    """A reward as data: named terms plus a phase clock for rhythmic motion."""

    model_config = _FROZEN

    clock_hz: float = Field(
        default=1.0,
        ge=0.0,
        le=5.0,
        description="phase clock frequency in Hz: the rhythm of oscillate terms with frequency 0, "
        "and of the clock_sin / clock_cos features",
    )
    terms: list[Term] = Field(min_length=1, max_length=MAX_TERMS)
    command: Command | None = Field(
        default=None,
        description="for models with a joystick command (Go1 and the other joystick models): the "
        "velocity command held fixed for the whole episode; None: stand in place (zero)",
    )
    pose: Pose | None = Field(
        default=None,
        description="for Go1: the posture its base policy stands on, held or swung on a beat "
        "(crouch, bow, tilt, bounce, hip sway); None: the standing pose",
    )

    def controls_words(self) -> str:
        """The command and the pose in words ("" when the spec has neither):
        "forward 0.3 m/s; crouch 8 cm"."""
        parts = [self.command.describe()] if self.command is not None else []
        if self.pose is not None and not self.pose.is_neutral():
            parts.append(self.pose.describe())
        return "; ".join(parts)

    @field_validator("terms")
    @classmethod
    def _unique_names(cls, terms: list[Term]) -> list[Term]:
        names = [term.name for term in terms]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"term names must be unique; repeated: {', '.join(duplicates)}")
        slots = [(term.kind, term.feature) for term in terms if term.kind != "expression"]
        repeated = sorted({slot for slot in slots if slots.count(slot) > 1})
        if repeated:
            listed = ", ".join(f"{kind} {feature}" for kind, feature in repeated)
            raise ValueError(f"at most one term per kind and feature; repeated: {listed}")
        return terms


class Approach(BaseModel):
    """One way to read the prompt: a name and a line for people, and the reward."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=1, max_length=200)
    reward: RewardSpec


class Proposal(BaseModel):
    """Three approaches for one prompt on one model."""

    model: str
    prompt: str
    source: Literal["llm", "offline", "fallback"]
    approaches: list[Approach] = Field(min_length=3, max_length=3)
    warnings: list[str] = Field(default_factory=list)


def spec_fingerprint(spec: RewardSpec) -> str:
    """A canonical text of the spec, for telling approaches apart."""
    return spec.model_dump_json()


def clean_label(text: str, limit: int) -> str:
    """Make model-written names and descriptions safe to show: printable, one line, short."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", str(text))
    text = re.sub(r"\s+", " ", text).strip()
    return text[:limit].rstrip()
