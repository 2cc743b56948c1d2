"""The offline behaviour library and the fallback library, as data.

A *behaviour* (hula hip sway, pogo bounce, spin...) has the words that call
it up and three approaches: a literal reading, a playful one and a stable one
(smaller motions, more weight on not falling over). Go1 has a rich library over
its quadruped features; every other model gets a small generic one over joint
positions, velocities and its own task reward.

Every approach carries a small-weight stability term (the Go1 environment's
own stability penalties, or the environment's own reward elsewhere), visible
in the spec like any other term: when fine-tuning from a base policy it keeps
the robot from simply falling over.

Matching is deterministic: words are lower-cased and split on anything that is
not a letter or digit; a keyword ending in ``*`` matches words starting with
it, other keywords match whole words, and phrases (with spaces) match the
cleaned text. Phrases count twice; keywords starting with ``~`` (everyday
words such as "walk" or "go") count half, so that "walk like you're on the
moon" is about the moon.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from tabrl.rewards.features import FeatureInfo, stability_term_feature
from tabrl.rewards.spec import Approach, Pose, RewardSpec, Term

PI = math.pi


# --- term helpers -------------------------------------------------------------------


def track(name, feature, target, tolerance, weight=1.0) -> Term:
    return Term(name=name, kind="track", feature=feature, target=target, tolerance=tolerance, weight=weight)


def osc(name, feature, amplitude, frequency, tolerance, weight=1.0, target=0.0, phase=0.0) -> Term:
    return Term(
        name=name, kind="oscillate", feature=feature, target=target, amplitude=amplitude,
        frequency=frequency, tolerance=tolerance, weight=weight, phase=phase,
    )  # fmt: skip


def maximize(name, feature, weight=1.0, target=0.0, tolerance=1.0) -> Term:
    return Term(name=name, kind="maximize", feature=feature, target=target, tolerance=tolerance, weight=weight)


def penalty(name, feature, weight, tolerance=1.0, target=0.0) -> Term:
    return Term(name=name, kind="penalty", feature=feature, target=target, tolerance=tolerance, weight=weight)


def linear(name, feature, weight, tolerance=1.0) -> Term:
    return Term(name=name, kind="linear", feature=feature, tolerance=tolerance, weight=weight)


def stability_term(family: str, weight: float = 0.2) -> Term:
    return linear("stability" if family == "go1" else "task", stability_term_feature(family), weight)


def approach(family: str, name: str, description: str, *terms: Term, stability: float = 0.2, clock_hz: float = 1.0) -> Approach:
    all_terms = list(terms)
    if stability and not any(t.feature == stability_term_feature(family) for t in terms):
        all_terms.append(stability_term(family, stability))
    spec = RewardSpec(clock_hz=clock_hz, terms=all_terms)
    return Approach(name=name, description=description, reward=with_controls(spec, family))


# The velocity features a joystick command drives, and the command's field for each.
COMMAND_FEATURES = {"forward_velocity": "forward", "lateral_velocity": "sideways", "yaw_rate": "turn"}


BASE_MAX_BEAT_HZ = 1.0
"""The fastest swing the Go1 base follows visibly. Measured on its rollouts (10 s,
`tabrl.rollout.collect`, then `tabrl.behaviour.describe`) under a twist of 1.2 rad/s:
a 19-degree wiggle at 0.5 Hz standing, 10 degrees at 1 Hz while walking at 1 m/s,
nothing visible at 2 Hz standing."""


BASE_DEADBAND = {"forward": (0.08, 0.5), "sideways": (0.08, 0.5), "turn": (0.15, 1.0)}
"""(how much slower the Go1 base goes than a slow command, the speed where that ends), per
command field. 10-s rollouts, forward command -> speed: 0.2 -> 0.05, 0.25 -> 0.14,
0.3 -> 0.22, 0.35 -> 0.30, 0.4 -> 0.36, 0.5 -> 0.5 m/s; sideways 0.25 -> 0.11,
0.4 -> 0.34 m/s; turn 0.6 -> 0.42, 1.0 -> 0.92, 1.2 -> 1.16 rad/s."""


def _past_deadband(field: str, speed: float) -> float:
    """The command that makes the base move at `speed`: slow speeds get the field's
    `BASE_DEADBAND` more, tapering to nothing at its end."""
    extra, end = BASE_DEADBAND[field]
    size = abs(speed)
    if size < 0.05:
        return speed
    return math.copysign(size + extra * min(1.0, max(0.0, (end - size) / (0.2 * end))), speed)


def _base_beat(frequency: float) -> float:
    """A rhythmic term's beat as a swing the base can follow: halved until it is at most
    `BASE_MAX_BEAT_HZ` (a 2.5 Hz shake swings the body at 0.625 Hz, on every fourth beat)."""
    while frequency > BASE_MAX_BEAT_HZ:
        frequency /= 2
    return round(max(0.1, frequency), 3)


STAND_HEIGHT = 0.295
"""Go1's body height (m) standing on its base policy (10-s rollout, command zero)."""
POSE_FOLLOW = {"height": 1.0, "pitch": 0.85, "roll": 0.55, "bob": 1.0, "nod": 0.37, "hips": 0.9,
               "hips_roll": 0.5}
"""How much of a `Pose` the Go1 base policy's body shows (10-s rollouts, `tabrl.rollout.collect`
then `tabrl.behaviour.describe`): a crouch of 0.1 m lowers it 0.102 m, a 0.3-rad nose-down
shift pitches it 0.256 rad (it balances against tilts), a 0.2-rad roll shift rolls it 0.125,
a bob of 0.05 m bobs it 0.049 m at 2 Hz, a nod of 0.3 rad nods it 0.106 rad; a hip swing of
0.3 rad swings the hip joints 0.27 rad and rolls the body 0.15 rad ("hips_roll")."""
POSE_FEATURES = ("base_height", "pitch", "roll", "hip_angles")
MAX_POSE_BEAT_HZ = 3.0


def _pose_of(terms: list[Term]) -> tuple[Pose | None, list[Term]]:
    """A Go1 `Pose` read off the terms on body height, pitch, roll and hip angles, and the
    terms asking for what that pose gives (so reward, pose and report agree).

    A track holds the pose there; an oscillation holds its centre and swings on the beat
    (height: `bob`; pitch: `nod`; roll and hip angles: `hips`, which rolls the body); the
    strongest rhythmic pose term sets the beat. Numbers are divided by what the base
    follows (`POSE_FOLLOW`) and clipped to `POSE_LIMITS`; a term asking for more than
    that then asks for the most the pose gives."""
    from tabrl.rewards.spec import POSE_LIMITS, field_range

    terms = list(terms)
    mine = sorted((t for t in terms if t.feature in POSE_FEATURES and t.weight > 0 and t.kind in ("track", "oscillate")
                   and not (t.feature == "hip_angles" and t.kind == "track")), key=lambda t: -abs(t.weight))
    if not mine:
        return None, terms
    rhythmic = [t for t in mine if t.kind == "oscillate" and t.frequency > 0]
    beat = min(rhythmic[0].frequency, MAX_POSE_BEAT_HZ) if rhythmic else 1.0

    def clip(value, low, high):
        return round(max(low, min(high, value)), 3)

    fields: dict[str, float] = {}
    rewrite: dict[int, dict] = {}
    for term in mine:
        index = terms.index(term)
        if term.feature == "base_height" and "height" not in fields:
            fields["height"] = clip(term.target - STAND_HEIGHT, *POSE_LIMITS["height"])
            rewrite[index] = {"target": round(STAND_HEIGHT + fields["height"], 3)}
            if term.kind == "oscillate":
                room = min(fields["height"] - POSE_LIMITS["height"][0], POSE_LIMITS["height"][1] - fields["height"])
                fields["bob"] = clip(term.amplitude, 0.0, min(field_range(Pose, "bob")[1], room))
                rewrite[index]["amplitude"] = fields["bob"]
        elif term.feature == "pitch" and "pitch" not in fields:
            fields["pitch"] = clip(term.target / POSE_FOLLOW["pitch"], *POSE_LIMITS["pitch"])
            rewrite[index] = {"target": round(fields["pitch"] * POSE_FOLLOW["pitch"], 3)}
            if term.kind == "oscillate":
                room = min(fields["pitch"] - POSE_LIMITS["pitch"][0], POSE_LIMITS["pitch"][1] - fields["pitch"])
                fields["nod"] = clip(term.amplitude / POSE_FOLLOW["nod"], 0.0, min(field_range(Pose, "nod")[1], room))
                rewrite[index]["amplitude"] = round(fields["nod"] * POSE_FOLLOW["nod"], 3)
        elif term.feature == "roll" and term.kind == "track" and "roll" not in fields:
            fields["roll"] = clip(term.target / POSE_FOLLOW["roll"], *POSE_LIMITS["roll"])
            rewrite[index] = {"target": round(fields["roll"] * POSE_FOLLOW["roll"], 3)}
        elif term.kind == "oscillate" and term.feature in ("roll", "hip_angles") and "hips" not in fields:
            follow = POSE_FOLLOW["hips_roll" if term.feature == "roll" else "hips"]
            fields["hips"] = clip(term.amplitude / follow, *field_range(Pose, "hips"))
            rewrite[index] = {"amplitude": round(fields["hips"] * follow, 3)}
        else:
            continue
        if term.kind == "oscillate":
            rewrite[index]["frequency"] = beat
    for index, update in rewrite.items():
        terms[index] = terms[index].model_copy(update=update)
    return Pose(**fields, beat_hz=beat), terms


def with_pose(spec: RewardSpec, family: str) -> RewardSpec:
    """The spec with a Go1 pose read off its terms (`_pose_of`) when it has none: for
    specs that bring their own command (an LLM's), which `with_controls` would replace."""
    if family != "go1" or spec.pose is not None:
        return spec
    pose, terms = _pose_of(list(spec.terms))
    return spec.model_copy(update={"pose": pose, "terms": terms})


def with_controls(spec: RewardSpec, family: str) -> RewardSpec:
    """The spec with its phase clock and (for models with a joystick command) its command
    read off its own terms, so every approach follows one rule, whoever wrote its terms:

    * clock: the frequency of the strongest rhythmic term, so the phase the policy
      observes (`tabrl.controls`) is the beat that term rewards;
    * command: each `track` (or `maximize`) term on a velocity the command drives asks for that speed
      (clipped to the range the base policy learned), so the base walks or turns
      there from the first step and the fine-tune adds the style; rhythmic terms on
      those velocities (a wag, a shuffle) swing the command instead
      (`Command.sway`/`twist`/`rock`), so the base steps side to side or twists in time,
      on the strongest one's beat made one the base can follow (`_base_beat`); those
      terms then ask for that beat and swing, so reward, command and report agree;
    * pose (Go1): terms on body height, pitch, roll and hip angles shift the pose the
      base policy stands on (`_pose_of`): a crouch, a bow, a bob or swinging hips from
      the first step.
    """
    from tabrl.rewards.spec import COMMAND_LIMITS, Command

    terms, command, pose = list(spec.terms), None, None
    if family == "go1":
        pose, terms = _pose_of(terms)
    rhythmic = [t for t in terms if t.kind == "oscillate" and t.frequency > 0]
    if family == "go1":
        speeds, swings, drivers = {}, {}, {}
        swing_of = {"forward": "rock", "sideways": "sway", "turn": "twist"}
        for term in sorted(rhythmic, key=lambda t: -abs(t.weight)):
            field = COMMAND_FEATURES.get(term.feature or "")
            if field and term.weight > 0 and swing_of[field] not in swings:
                swings[swing_of[field]], drivers[swing_of[field]] = term.amplitude, term
        for term in terms:
            field = COMMAND_FEATURES.get(term.feature or "")
            if field and term.weight > 0 and term.kind in ("track", "maximize"):
                # maximize's tanh is nearly saturated one tolerance past its target
                speed = term.target if term.kind == "track" else term.target + term.tolerance
                speed = _past_deadband(field, speed)
                limit = COMMAND_LIMITS[field]
                speeds[field] = round(max(-limit, min(limit, speed)), 3)
        for field, swing in swing_of.items():  # a swing fits in what the held part leaves
            if swing in swings:
                room = COMMAND_LIMITS[field] - abs(speeds.get(field, 0.0))
                swings[swing] = round(max(0.0, min(room, swings[swing])), 3)
        strongest = max(drivers.values(), key=lambda t: abs(t.weight), default=None)
        beat = _base_beat(strongest.frequency) if strongest else 0.5
        command = Command(**speeds, **swings, beat_hz=beat)
        # The terms that drive a swing ask for the swing the base can follow (its beat and size),
        # so the reward, the command and the report agree.
        for swing, term in drivers.items():
            terms[terms.index(term)] = term.model_copy(update={"frequency": beat, "amplitude": swings[swing]})
        rhythmic = [t for t in terms if t.kind == "oscillate" and t.frequency > 0]
    clock_hz = max(rhythmic, key=lambda t: abs(t.weight)).frequency if rhythmic else spec.clock_hz
    return spec.model_copy(update={"clock_hz": clock_hz, "command": command, "pose": pose, "terms": terms})


@dataclass(frozen=True)
class Behaviour:
    key: str
    keywords: tuple[str, ...]
    approaches: tuple[Approach, Approach, Approach]
    """literal, playful, stable"""


# --- Go1 ----------------------------------------------------------------------------


def _go1(name, description, *terms, stability=0.2) -> Approach:
    return approach("go1", name, description, *terms, stability=stability)


def _stay_put(weight=0.5, tolerance=0.3) -> Term:
    return track("stay_put", "forward_velocity", 0.0, tolerance, weight)


def _level(weight=0.5, tolerance=0.05) -> Term:
    return track("level_body", "upright", 1.0, tolerance, weight)


def _paws_down(weight=0.5, target=3.0) -> Term:
    return maximize("paws_down", "feet_in_contact", weight, target=target, tolerance=1.0)


def _smooth(weight=-0.02) -> Term:
    return linear("smooth_actions", "action_rate", weight)


def _still(weight=0.2, tolerance=2.0) -> Term:
    return penalty("still", "joint_speed", weight, tolerance=tolerance)


@functools.cache
def go1_behaviours() -> tuple[Behaviour, ...]:
    B = Behaviour
    return (
        B("hula", ("hula*", "hip*", "aloha", "hawai*", "sway*", "shak*", "twerk*", "luau", "booty"), (
            _go1("Hula Hip Sway", "Steps side to side on the slow beat and sways its hips like a hula dancer.",
                 osc("hip_sway", "hip_angles", 0.3, 1.5, 0.2, 2.0),
                 osc("body_roll", "roll", 0.12, 1.5, 0.1, 1.0),
                 osc("side_steps", "lateral_velocity", 0.35, 0.75, 0.2, 1.0),
                 _stay_put(), track("body_height", "base_height", 0.27, 0.05, 0.5)),
            _go1("Aloha Party Shake", "Cranks up the ukulele: fast hip shakes with a bounce on every beat.",
                 osc("hip_shake", "hip_angles", 0.4, 2.5, 0.25, 2.0),
                 osc("party_bounce", "base_height", 0.03, 2.5, 0.03, 1.0, target=0.26),
                 osc("tail_wiggle", "yaw_rate", 1.5, 2.5, 1.0, 0.5)),
            _go1("Gentle Island Sway", "A slow, easy sway of the hips that never risks a tumble.",
                 osc("slow_sway", "hip_angles", 0.2, 1.0, 0.15, 1.5), _level(1.0),
                 track("body_height", "base_height", 0.28, 0.04, 0.5), _smooth(), stability=0.5),
        )),
        B("robot", ("robot*", "80s", "eighties", "1980*", "mechanical", "stiff*", "android*", "cyborg*",
                    "droid*", "beep*", "boop", "machine*", "pop and lock", "popping"), (
            _go1("80s Robot Pop-and-Lock", "Moves its legs in crisp, stiff beats and bobs its head like a robot.",
                 osc("thigh_beats", "thigh_angles", 0.3, 1.0, 0.15, 1.5),
                 osc("head_bob", "pitch", 0.1, 2.0, 0.06, 1.0),
                 penalty("stiff_hips", "hip_velocities", 0.3, tolerance=2.0), _stay_put()),
            _go1("Disco Droid", "Swivels left, swivels right and bobs to the synth beat.",
                 osc("swivel", "yaw_rate", 1.5, 0.5, 0.6, 1.5),
                 osc("synth_bob", "base_height", 0.03, 2.0, 0.02, 1.0, target=0.27),
                 penalty("stiff_calves", "calf_velocities", 0.3, tolerance=2.0)),
            _go1("Stiff Toy Robot March", "Locks its knees like a wind-up toy robot and marches slowly forward.",
                 track("march", "forward_velocity", 0.3, 0.2, 1.5),
                 penalty("stiff_calves", "calf_velocities", 0.3, tolerance=2.0), _level(), stability=0.5),
        )),
        B("puppy", ("pup*", "dog*", "doggo", "happy", "excite*", "wag*", "tail*", "joy*", "cheer*",
                    "playful", "woof", "bark*", "cute"), (
            _go1("Tail-Wag Wiggle", "Wiggles its whole back end like a puppy wagging its tail.",
                 osc("tail_wag", "yaw_rate", 2.0, 3.0, 1.0, 2.0),
                 osc("butt_wiggle", "roll", 0.08, 3.0, 0.08, 0.5), _stay_put()),
            _go1("Zoomies!", "Bursts forward in happy zig-zags, wagging all the way.",
                 track("dash", "forward_velocity", 1.0, 0.4, 1.5),
                 osc("zigzag", "yaw_rate", 1.5, 1.0, 0.8, 1.0),
                 maximize("hop", "airborne", 0.3)),
            _go1("Play Bow and Wag", "Drops its chest into a play bow and wags its hips happily.",
                 track("play_bow", "pitch", 0.3, 0.1, 1.5),
                 osc("gentle_wag", "hip_angles", 0.15, 2.0, 0.1, 1.0), stability=0.5),
        )),
        B("lunar", ("moon", "moons", "lunar", "astronaut*", "space", "spacewalk", "gravity", "weightless",
                    "float*", "planet*", "rocket*", "alien*", "mars", "zero g"), (
            _go1("Moon Bounce Walk", "Bounds slowly forward in long, floaty, low-gravity hops.",
                 track("slow_walk", "forward_velocity", 0.4, 0.2, 1.5),
                 osc("floaty_bounce", "base_height", 0.05, 1.0, 0.03, 1.0, target=0.3),
                 maximize("long_air_time", "feet_air_time", 0.5, target=0.1, tolerance=0.2)),
            _go1("Astronaut Leaps", "Pushes off for big, slow bounds, surging forward as if gravity were a sixth.",
                 osc("moon_bounds", "base_height", 0.05, 0.5, 0.03, 2.0, target=0.28),
                 track("drift_forward", "forward_velocity", 0.6, 0.3, 1.0),
                 osc("surge", "forward_velocity", 0.4, 0.5, 0.3, 0.5),
                 maximize("leap", "airborne", 0.5)),
            _go1("Slow-Motion Stroll", "Walks as if every step took ages: slow, smooth and steady.",
                 track("slow_walk", "forward_velocity", 0.25, 0.1, 1.5),
                 penalty("slow_motion", "joint_speed", 0.3, tolerance=3.0), _smooth(), stability=0.5),
        )),
        B("breakdance", ("breakdanc*", "bboy*", "bgirl*", "b boy", "headspin*", "windmill*", "break dance",
                         "power move", "flare"), (
            _go1("Spin Move", "Drops low and spins on the spot like a b-boy power move.",
                 track("spin", "yaw_rate", 1.2, 0.5, 2.0),
                 track("low_stance", "base_height", 0.22, 0.04, 1.0), _stay_put(0.3, 0.4)),
            _go1("Windmill Kicks", "Spins the other way while flicking its back legs out in flashy kicks.",
                 track("spin", "yaw_rate", -1.2, 0.5, 1.5),
                 osc("back_kicks", "rear_foot_heights", 0.08, 2.0, 0.05, 1.0, target=0.1),
                 osc("body_roll", "roll", 0.15, 1.0, 0.1, 0.5)),
            _go1("Toprock Shuffle", "Stays upright and shuffles side to side to the breakbeat.",
                 osc("side_shuffle", "lateral_velocity", 0.4, 1.0, 0.2, 1.5),
                 osc("hip_groove", "hip_angles", 0.2, 2.0, 0.15, 1.0), stability=0.5),
        )),
        B("dance", ("danc*", "groov*", "party*", "disco*", "boogie*", "music*", "rhythm*", "beat*",
                    "funk*", "jam*", "club*", "rave*", "salsa", "tango", "waltz*", "bop*"), (
            _go1("Groove Bounce", "Bounces to the beat and rocks side to side.",
                 osc("beat_bounce", "base_height", 0.03, 2.0, 0.02, 1.5, target=0.26),
                 osc("side_rock", "roll", 0.1, 1.0, 0.08, 1.0), _stay_put(0.3)),
            _go1("Party Shuffle", "Slides left and right and twirls a little on the chorus.",
                 osc("shuffle", "lateral_velocity", 0.4, 1.0, 0.2, 1.5),
                 osc("twirl", "yaw_rate", 1.5, 0.5, 0.8, 1.0)),
            _go1("Head-Bob Groove", "Keeps its paws planted and bobs its head to the music.",
                 osc("head_bob", "pitch", 0.1, 2.0, 0.05, 1.5), _paws_down(), stability=0.5),
        )),
        B("bounce", ("jump*", "bounc*", "hop*", "leap*", "spring*", "pogo*", "trampolin*", "kangaroo*",
                     "bunny", "bunnies", "rabbit*", "frog*"), (
            _go1("Pogo Bounce", "Jumps straight up and down on all four legs like a pogo stick.",
                 osc("pogo", "base_height", 0.06, 2.0, 0.03, 1.5, target=0.3),
                 maximize("air", "airborne", 1.0), _stay_put(0.3)),
            _go1("Bunny Hops Forward", "Hops forward, front paws then back paws, like a bunny.",
                 track("hop_forward", "forward_velocity", 0.6, 0.3, 1.5),
                 osc("front_hop", "front_foot_heights", 0.06, 2.0, 0.04, 1.0, target=0.08),
                 osc("back_hop", "rear_foot_heights", 0.06, 2.0, 0.04, 1.0, target=0.08, phase=PI)),
            _go1("Knee-Bend Bounce", "Bounces by bending its knees while keeping its paws on the ground.",
                 osc("knee_bounce", "base_height", 0.04, 1.5, 0.02, 1.5, target=0.26),
                 _paws_down(), stability=0.5),
        )),
        B("spin", ("spin*", "twirl*", "pirouett*", "tornado*", "whirl*", "swirl*", "cyclone*", "tops"), (
            _go1("Spin in Place", "Spins on the spot as fast as it comfortably can.",
                 track("spin", "yaw_rate", 1.2, 0.5, 2.0), _stay_put(), stability=0.3),
            _go1("Tornado Hop", "Spins and hops at once, a tiny four-legged tornado.",
                 track("spin", "yaw_rate", 1.2, 0.5, 1.5),
                 osc("hop", "base_height", 0.04, 2.0, 0.03, 1.0, target=0.29)),
            _go1("Slow Pirouette", "Rises up tall and turns slowly and elegantly.",
                 track("turn", "yaw_rate", 0.6, 0.3, 1.5),
                 track("tall", "base_height", 0.335, 0.03, 1.0), stability=0.5),
        )),
        B("backwards", ("moonwalk*", "backward*", "reverse*", "retreat*", "michael jackson", "back up",
                        "rewind*"), (
            _go1("Moonwalk", "Glides backwards with low, sliding steps.",
                 track("backwards", "forward_velocity", -0.5, 0.2, 2.0),
                 track("low_glide", "base_height", 0.25, 0.04, 0.5),
                 track("low_feet", "foot_heights", 0.02, 0.03, 0.5)),
            _go1("Backwards Strut", "Struts backwards with a sassy sway of the hips.",
                 track("backwards", "forward_velocity", -0.6, 0.3, 1.5),
                 osc("sassy_hips", "hip_angles", 0.25, 2.0, 0.2, 1.0)),
            _go1("Careful Reverse", "Backs up slowly and steadily, like parking a car.",
                 track("backwards", "forward_velocity", -0.2, 0.1, 1.5),
                 track("straight", "yaw_rate", 0.0, 0.3, 0.5), _smooth(), stability=0.5),
        )),
        B("tall", ("tiptoe*", "tip toe", "tall*", "stretch*", "proud*", "ballerina*", "ballet",
                   "giraffe*", "elegant*", "posh", "fancy", "royal*"), (
            _go1("Tiptoe Stretch", "Stretches every leg to stand as tall as it can, on tiptoes.",
                 track("tiptoe", "base_height", 0.35, 0.03, 2.0), _level(), stability=0.3),
            _go1("Ballerina Twirl", "Rises up tall and turns slowly like a ballerina.",
                 track("tiptoe", "base_height", 0.34, 0.03, 1.5),
                 track("twirl", "yaw_rate", 1.2, 0.5, 1.0), stability=0.3),
            _go1("Stand Tall and Proud", "Stands tall, chest level, perfectly still.",
                 track("tall", "base_height", 0.32, 0.03, 1.5), _still(), stability=0.5),
        )),
        B("crouch", ("crouch*", "sneak*", "stalk*", "creep*", "low", "lower", "hunt*", "cat", "cats",
                     "kitty", "ninja*", "stealth*", "hide", "hiding", "prowl*", "spy", "squat*"), (
            _go1("Low Crouch", "Sinks down low to the ground and holds it.",
                 track("crouch", "base_height", 0.18, 0.03, 2.0), _level(), stability=0.3),
            _go1("Sneaky Stalk", "Creeps forward low and slow, like a cat after a toy.",
                 track("crouch", "base_height", 0.2, 0.03, 1.5),
                 track("creep", "forward_velocity", 0.3, 0.15, 1.0)),
            _go1("Pounce Wiggle", "Crouches low, paws planted, and wiggles its hips, about to pounce.",
                 track("crouch", "base_height", 0.21, 0.04, 1.5),
                 osc("pounce_wiggle", "hip_angles", 0.2, 2.0, 0.15, 1.0), _paws_down(), stability=0.5),
        )),
        B("wiggle", ("wiggl*", "wobbl*", "jiggl*", "squirm*", "jelly", "noodl*", "wriggl*", "shimmy*",
                     "dizzy", "tipsy", "drunk*", "woozy"), (
            _go1("Full-Body Wiggle", "Wiggles from nose to tail: roll, yaw and hips all at once.",
                 osc("roll_wiggle", "roll", 0.12, 2.5, 0.08, 1.0),
                 osc("yaw_wiggle", "yaw_rate", 1.5, 2.5, 0.8, 1.0),
                 osc("hip_wiggle", "hip_angles", 0.25, 2.5, 0.2, 1.0)),
            _go1("Jelly Legs", "Goes wobbly like jelly, bouncing and swaying at once.",
                 osc("jelly_bounce", "base_height", 0.04, 3.0, 0.02, 1.0, target=0.26),
                 osc("jelly_sway", "roll", 0.15, 1.5, 0.1, 1.0)),
            _go1("Little Shimmy", "A small, tidy shimmy of the hips while standing firm.",
                 osc("shimmy", "hip_angles", 0.15, 3.0, 0.1, 1.5), _paws_down(), stability=0.5),
        )),
        B("bow", ("bow", "bows", "bowing", "greet*", "namaste", "respect*", "curtsy", "thank*",
                  "polite*", "salute*", "gentleman", "sir", "madam"), (
            _go1("Polite Bow", "Lowers its chest and nose in a deep, polite bow.",
                 track("bow", "pitch", 0.35, 0.08, 2.0), track("body_height", "base_height", 0.24, 0.04, 0.5)),
            _go1("Play Bow", "Chest down, tail up, wagging: let's play!",
                 track("play_bow", "pitch", 0.45, 0.1, 1.5), osc("wag", "yaw_rate", 1.0, 2.5, 0.6, 1.0)),
            _go1("Nod Hello", "Greets you with slow, friendly nods of the head.",
                 osc("nod", "pitch", 0.12, 1.0, 0.05, 1.5), _stay_put(0.5, 0.2), stability=0.5),
        )),
        B("sit", ("sit", "sits", "sitting", "beg*", "good boy", "good girl", "treat*", "obedien*"), (
            _go1("Sit Down", "Lowers its rear and lifts its chest into a good-dog sit.",
                 track("sit_pitch", "pitch", -0.45, 0.1, 2.0), track("body_height", "base_height", 0.22, 0.04, 0.5)),
            _go1("Beg for a Treat", "Sits up and paws at the air for a treat.",
                 track("sit_pitch", "pitch", -0.6, 0.15, 1.5),
                 osc("paw_wave", "front_foot_heights", 0.05, 2.0, 0.04, 1.0, target=0.12), stability=0.1),
            _go1("Calm Sit", "A relaxed, steady sit with no fidgeting.",
                 track("sit_pitch", "pitch", -0.35, 0.1, 1.5), _still(), stability=0.4),
        )),
        B("statue", ("statue*", "freez*", "frozen", "still", "stand", "standing", "pose", "posing",
                     "attention", "guard*", "wait*", "calm*", "zen", "meditat*", "stop", "quiet",
                     "mannequin*"), (
            _go1("Statue", "Freezes in a perfect standing pose and does not move a muscle.",
                 track("stand_height", "base_height", 0.28, 0.03, 1.0), _still(0.3, 1.0),
                 _level(1.0, 0.03), stability=0.3),
            _go1("Freeze Frame", "Strikes a dramatic tilted pose and holds it like a photo.",
                 track("dramatic_tilt", "roll", 0.2, 0.06, 1.5), track("pose_pitch", "pitch", 0.15, 0.06, 0.5),
                 _still(0.3, 1.0)),
            _go1("Zen Stand", "Stands calmly, breathing slowly, perfectly balanced.",
                 osc("breathe", "base_height", 0.01, 0.25, 0.01, 1.0, target=0.28),
                 _level(1.0, 0.03), _smooth(), stability=0.5),
        )),
        B("trot", ("~walk*", "trot*", "~run", "~runs", "~running", "gallop*", "~forward*", "march*", "jog*",
                   "sprint*", "race*", "racing", "~fast*", "~speed*", "zoom*", "dash*", "~go", "hurry*",
                   "rush*", "horse*", "pony"), (
            _go1("Steady Trot", "Trots forward with diagonal legs stepping together.",
                 track("trot_speed", "forward_velocity", 0.8, 0.3, 1.5),
                 osc("step_fr", "fr_foot_height", 0.04, 2.0, 0.03, 0.5, target=0.05),
                 osc("step_rl", "rl_foot_height", 0.04, 2.0, 0.03, 0.5, target=0.05),
                 osc("step_fl", "fl_foot_height", 0.04, 2.0, 0.03, 0.5, target=0.05, phase=PI),
                 osc("step_rr", "rr_foot_height", 0.04, 2.0, 0.03, 0.5, target=0.05, phase=PI)),
            _go1("Gallop Dash", "Goes full speed with bounding, flying strides.",
                 maximize("speed", "forward_velocity", 2.0, target=0.5, tolerance=0.7),
                 maximize("flight", "airborne", 0.5)),
            _go1("Easy Walk", "A calm, efficient walk that never stumbles.",
                 track("walk_speed", "forward_velocity", 0.5, 0.2, 1.5),
                 track("straight", "yaw_rate", 0.0, 0.3, 0.5),
                 linear("efficient", "energy", -0.001), stability=0.5),
        )),
        B("turn", ("turn*", "rotat*", "circl*", "around", "look*", "scan*", "radar", "lighthouse"), (
            _go1("Turn in Place", "Turns steadily on the spot, all the way around.",
                 track("turn", "yaw_rate", 1.2, 0.4, 2.0), _stay_put(0.5, 0.2), stability=0.3),
            _go1("Happy Circles", "Trots round and round in a big happy circle.",
                 track("circle_speed", "forward_velocity", 0.5, 0.2, 1.5),
                 track("circle_turn", "yaw_rate", 1.0, 0.4, 1.5)),
            _go1("Look Around", "Turns left, then right, scanning the room like a guard dog.",
                 osc("scan", "yaw_rate", 1.0, 0.3, 0.4, 1.5), _stay_put(0.5, 0.2), stability=0.5),
        )),
        B("handstand", ("handstand*", "headstand*", "flip*", "upside*", "cartwheel*", "acrobat*",
                        "gymnast*", "somersault*", "backflip*", "circus"), (
            _go1("Handstand Attempt", "Tips its weight onto its front legs and lifts its back paws high.",
                 track("nose_down", "pitch", 0.9, 0.3, 2.0),
                 maximize("rear_up", "rear_foot_heights", 1.0, target=0.1, tolerance=0.1), stability=0.05),
            _go1("Wheelbarrow Kicks", "Leans on its front paws and kicks its back legs in the air.",
                 track("nose_down", "pitch", 0.6, 0.25, 1.5),
                 osc("kicks", "rear_foot_heights", 0.08, 1.5, 0.06, 1.0, target=0.15), stability=0.05),
            _go1("Front Lean", "Leans forward onto its front legs in a steady, acrobat-ready pose.",
                 track("lean", "pitch", 0.4, 0.1, 1.5), _paws_down()),
        )),
        B("wave", ("wave", "waves", "waving", "paw", "paws", "high five", "shake hands", "hello", "hi",
                   "hey", "bye", "goodbye", "handshake"), (
            _go1("Paw Wave", "Lifts a front paw and waves hello.",
                 osc("wave", "fr_foot_height", 0.05, 2.0, 0.03, 2.0, target=0.12),
                 maximize("three_paws_down", "feet_in_contact", 0.3, target=2.0)),
            _go1("Double High-Five", "Waves both front paws, one after the other.",
                 osc("left_wave", "fl_foot_height", 0.05, 2.0, 0.03, 1.0, target=0.1),
                 osc("right_wave", "fr_foot_height", 0.05, 2.0, 0.03, 1.0, target=0.1, phase=PI)),
            _go1("Polite Paw Lift", "Raises one front paw and holds it up, steady as a statue.",
                 track("paw_up", "fr_foot_height", 0.1, 0.03, 1.5), _level(), stability=0.4),
        )),
        B("rest", ("sleep*", "lie", "lying", "nap*", "lazy", "tired", "rest*", "chill*", "relax*",
                   "bed", "snooz*", "sloth*"), (
            _go1("Lie Down", "Lowers itself all the way down for a nap.",
                 track("lie_low", "base_height", 0.12, 0.04, 2.0), _still(0.2, 1.0)),
            _go1("Lazy Stretch", "Lies low and does a big, lazy stretch of its front legs.",
                 track("lie_low", "base_height", 0.14, 0.04, 1.5),
                 osc("stretch", "front_thigh_angles", 0.2, 0.3, 0.15, 1.0, target=-0.3)),
            _go1("Chill Settle", "Settles down low and stays perfectly relaxed.",
                 track("settle", "base_height", 0.16, 0.04, 1.5), linear("low_effort", "torque", -0.05),
                 stability=0.4),
        )),
        B("sideways", ("sideway*", "side", "crab*", "strafe*", "lateral*", "slide", "sliding", "sidestep*"), (
            _go1("Crab Walk", "Scuttles sideways like a crab.",
                 track("crab", "lateral_velocity", 0.4, 0.15, 2.0), track("facing", "yaw_rate", 0.0, 0.3, 0.5)),
            _go1("Side-to-Side Slide", "Slides left, then right, then left again.",
                 osc("slide", "lateral_velocity", 0.5, 0.5, 0.2, 1.5)),
            _go1("Careful Sidestep", "Steps sideways slowly, keeping its body level.",
                 track("crab", "lateral_velocity", 0.25, 0.1, 1.5), _level(), stability=0.5),
        )),
        B("headbang", ("headbang*", "nod*", "rock", "rocks", "rocking", "rocker*", "metal*", "punk*",
                       "mosh*", "yes", "agree*"), (
            _go1("Headbanger", "Bangs its head to the beat: fast, hard nods.",
                 osc("headbang", "pitch", 0.2, 3.0, 0.08, 2.0), _stay_put(0.3), stability=0.1),
            _go1("Mosh Bounce", "Headbangs and bounces like it's in the front row.",
                 osc("headbang", "pitch", 0.15, 3.0, 0.07, 1.5),
                 osc("mosh_bounce", "base_height", 0.04, 1.5, 0.03, 1.0, target=0.27), stability=0.1),
            _go1("Yes Nod", "Nods along calmly, agreeing with everything.",
                 osc("nod", "pitch", 0.1, 1.0, 0.04, 1.5), stability=0.4),
        )),
    )


@functools.cache
def go1_generic() -> tuple[Approach, Approach, Approach]:
    """Three readings for a prompt the library does not know."""
    return (
        _go1("Freestyle Groove", "Reads your prompt as a dance: hips and body move to a steady beat.",
             osc("hip_groove", "hip_angles", 0.25, 1.5, 0.2, 1.5),
             osc("groove_bounce", "base_height", 0.03, 1.5, 0.02, 1.0, target=0.27), _stay_put(0.3)),
        _go1("Happy Trot", "Trots forward with a spring in its step.",
             track("trot_speed", "forward_velocity", 0.6, 0.3, 1.5),
             osc("spring", "base_height", 0.02, 2.0, 0.02, 0.5, target=0.28)),
        _go1("Show-Off Pose", "Stands tall and proud, steady as a rock.",
             track("tall", "base_height", 0.32, 0.03, 1.5), _level(), _still(), stability=0.5),
    )


@functools.cache
def go1_fallback() -> tuple[Approach, ...]:
    """The canned approaches that replace failed LLM ones, in order of preference."""
    by_key = {b.key: b for b in go1_behaviours()}
    return (
        by_key["trot"].approaches[0],
        by_key["hula"].approaches[0],
        by_key["tall"].approaches[2],
        by_key["spin"].approaches[0],
        by_key["bounce"].approaches[0],
    )


# --- every other model -----------------------------------------------------------------


def _generic_builders(catalog: tuple[FeatureInfo, ...]):
    by_name = {f.name: f for f in catalog}
    has_joints = "joint_positions" in by_name
    if has_joints:
        info = by_name["joint_positions"]
        center = min(max(0.0, info.low), info.high)
        span = info.high - info.low

    def g(name, description, *terms, task=0.5) -> Approach:
        return approach("generic", name, description, *terms, stability=task)

    def swing(name, amplitude, frequency, tolerance, weight) -> Term | None:
        if not has_joints:
            return None
        amp = min(amplitude, span / 2)
        return osc(name, "joint_positions", amp, frequency, tolerance, weight, target=center)

    def terms(*items):
        return [t for t in items if t is not None]

    def move(weight, target=1.0, tolerance=2.0, name="move_a_lot"):
        if has_joints:
            return maximize(name, "joint_speed", weight, target=target, tolerance=tolerance)
        return None

    return g, swing, terms, move, has_joints


@functools.cache
def generic_behaviours(catalog: tuple[FeatureInfo, ...]) -> tuple[Behaviour, ...]:
    g, swing, terms, move, has_joints = _generic_builders(catalog)
    if not has_joints:
        return ()
    still = penalty("slow_joints", "joint_velocities", 0.3, tolerance=2.0)
    smooth = linear("smooth_actions", "action_rate", -0.05)
    return (
        Behaviour("rhythm", ("danc*", "shak*", "hula*", "hip*", "sway*", "wiggl*", "wobbl*", "groov*",
                             "wag*", "rhythm*", "beat*", "twerk*", "party*", "disco*", "aloha", "swing*",
                             "music*", "jiggl*", "shimmy*"), (
            g("Rhythmic Swing", "Swings every joint back and forth to a steady beat while still doing its job.",
              *terms(swing("joint_swing", 0.3, 1.5, 0.2, 1.5))),
            g("Wild Shake", "Shakes fast and big, as if the music just got loud.",
              *terms(swing("big_shake", 0.5, 3.0, 0.3, 1.5), move(0.5)), task=0.3),
            g("Gentle Sway", "Keeps doing its task with a small, calm sway.",
              *terms(swing("small_sway", 0.15, 1.0, 0.1, 0.8), smooth), task=1.0),
        )),
        Behaviour("energy", ("fast*", "run", "running", "zoom*", "spin*", "breakdanc*", "crazy", "wild*",
                             "energ*", "jump*", "bounc*", "hop*", "happy", "excite*", "pup*", "sprint*",
                             "speed*", "race*", "flip*", "twirl*"), (
            g("Full Energy", "Moves as much as it can, fast and big.", *terms(move(1.5)), task=0.3),
            g("Bouncy Burst", "Bursts into quick, bouncy back-and-forth moves.",
              *terms(swing("quick_bounce", 0.3, 2.5, 0.2, 1.0), move(0.8, name="keep_moving")), task=0.3),
            g("Quick but Controlled", "Moves briskly but keeps doing its task well.",
              *terms(move(0.8), smooth), task=1.0),
        )),
        Behaviour("calm", ("robot*", "stiff*", "slow*", "calm*", "moon*", "lunar", "float*", "still",
                           "statue*", "stand*", "zen", "gentl*", "careful*", "sleep*", "lazy", "tired",
                           "relax*", "smooth*", "80s", "mechanical"), (
            g("Slow and Smooth", "Does everything in slow motion, smooth as silk.", still, smooth, task=1.0),
            g("Stiff Robot", "Moves in stiff, robotic steps: hold, then a quick twitch.",
              *terms(swing("robot_steps", 0.2, 0.5, 0.1, 1.0)),
              penalty("stiff", "action_magnitude", 0.2, tolerance=0.5)),
            g("Statue Mode", "Holds as still as it can while still doing its task.",
              track("hold_still", "joint_speed", 0.0, 0.5, 1.0), task=1.0),
        )),
    )


@functools.cache
def generic_default(catalog: tuple[FeatureInfo, ...]) -> tuple[Approach, ...]:
    """Three readings for an unknown prompt, and the fallback library, for other models."""
    g, swing, terms, move, has_joints = _generic_builders(catalog)
    if not has_joints:
        return (
            g("Do the Task", "Does what the environment asks, nothing fancy.",
              linear("task_focus", "task_reward", 1.0), task=0.0),
            g("Task, Calmly", "Does its task with small, calm actions.",
              penalty("small_actions", "action_magnitude", 0.3, tolerance=0.5), task=1.0),
            g("Task, Smoothly", "Does its task with smooth, unhurried actions.",
              linear("smooth_actions", "action_rate", -0.05), task=1.0),
        )
    return (
        g("Task With Flair", "Does its task with a little rhythmic flourish.",
          *terms(swing("flourish", 0.2, 1.0, 0.2, 0.5)), task=1.0),
        g("Energetic Take", "Does it with lots of energy: big, quick moves.", *terms(move(1.0))),
        g("Calm and Precise", "Does its task calmly, with small, smooth moves.",
          penalty("slow_joints", "joint_velocities", 0.2, tolerance=2.0),
          linear("smooth_actions", "action_rate", -0.05), task=1.0),
    )


# --- matching ----------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def keyword_score(keywords: tuple[str, ...], prompt: str) -> float:
    words = _words(prompt)
    joined = " " + " ".join(words) + " "
    score = 0.0
    for keyword in keywords:
        weight = 0.5 if keyword.startswith("~") else 1.0
        keyword = keyword.lstrip("~")
        if " " in keyword:
            score += 2 * weight * (f" {keyword} " in joined)
        elif keyword.endswith("*"):
            stem = keyword[:-1]
            score += weight * any(word.startswith(stem) for word in words)
        else:
            score += weight * (keyword in words)
    return score


def match_behaviours(behaviours: tuple[Behaviour, ...], prompt: str) -> list[tuple[float, Behaviour]]:
    """(score, behaviour) for the behaviours the prompt calls up, best first; ties keep
    library order."""
    scored = [(keyword_score(b.keywords, prompt), i, b) for i, b in enumerate(behaviours)]
    return [(score, b) for score, i, b in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


def candidates_for(matched: list[tuple[float, Behaviour]]) -> list[Approach]:
    """Approaches in the order they are offered: the best behaviour's literal, playful
    and stable readings, where a behaviour that matches just as well lends its literal
    reading to the second and third places; then everything else matched."""
    if not matched:
        return []
    best_score, best = matched[0]
    tied = [b for score, b in matched[1:3] if score == best_score]
    ordered = [best.approaches[0]]
    ordered.append(tied[0].approaches[0] if tied else best.approaches[1])
    ordered.append(tied[1].approaches[0] if len(tied) > 1 else best.approaches[2])
    for _, behaviour in matched:
        ordered += [a for a in behaviour.approaches if a not in ordered]
    return ordered
