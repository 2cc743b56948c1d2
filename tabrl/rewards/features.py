"""What a reward can look at: feature sets per robot family, and their extraction.

Two families:

* ``go1`` (every `Go1*` model): a rich quadruped set: base height, body-frame
  velocity, yaw rate, roll and pitch, joint angles and velocities grouped by
  hip/thigh/calf and by leg, foot heights, contacts and air time, action rate,
  torque and energy, the environment's own stability penalties, the phase clock.
* ``generic`` (every other model): joint positions and velocities by joint name,
  root height and velocity where the model has a free joint, action size and
  rate, the environment's own reward (`task_reward`), the phase clock.

`feature_catalog(model_id)` is what the LLM and the UI see. Extraction
(`make_extractor(env)`) is jax-traceable: it maps one transition (state,
action, next state) of an unbatched Playground environment to a dict of arrays,
scalars as shape () and groups as shape (n,). `clock_sin` and `clock_cos`
depend on the spec's `clock_hz`, so the compiled reward adds them
(`tabrl.rewards.compile`); extraction provides `time`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from tabrl.rewards.cache import find, versioned_name, write
from tabrl.rewards.families import feature_family

FEATURES_VERSION = 1
"""Bump when a feature's meaning or a family's layout changes (invalidates disk caches)."""

Role = Literal["pose", "motion", "contact", "effort", "stability", "task", "clock"]
REWARDING_ROLES: frozenset[str] = frozenset({"pose", "motion", "contact", "task"})
"""A spec must reward at least one feature with one of these roles (not only penalties)."""

CLOCK_FEATURES = ("clock_sin", "clock_cos")
INFO_LAST_ACTION = "tabrl_last_action"
INFO_AIR_TIME = "tabrl_feet_air_time"


class FeatureInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    unit: str
    description: str
    size: int = 1
    """1 for a scalar; n for a group (terms score each element and average)."""
    low: float
    high: float
    """The documented range: targets must lie in [low, high]."""
    role: Role


def _f(name, unit, low, high, role, description, size=1) -> FeatureInfo:
    return FeatureInfo(
        name=name, unit=unit, low=low, high=high, role=role, description=description, size=size
    )


def _clock_features() -> list[FeatureInfo]:
    return [
        _f("time", "s", 0.0, 100.0, "clock", "time since the episode started"),
        _f("clock_sin", "1", -1.0, 1.0, "clock", "sin(2 pi clock_hz time): the spec's phase clock"),
        _f("clock_cos", "1", -1.0, 1.0, "clock", "cos(2 pi clock_hz time): the phase clock, a quarter turn on"),
    ]


# --- Go1 ----------------------------------------------------------------------

GO1_LEGS = ("FR", "FL", "RR", "RL")
GO1_JOINTS = tuple(f"{leg}_{part}_joint" for leg in GO1_LEGS for part in ("hip", "thigh", "calf"))
_HIP, _THIGH, _CALF = [0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]
GO1_JOINT_GROUPS: dict[str, list[int]] = {
    "joint": list(range(12)),
    "hip": _HIP,
    "thigh": _THIGH,
    "calf": _CALF,
    "front_thigh": [1, 4],
    "rear_thigh": [7, 10],
    "front_calf": [2, 5],
    "rear_calf": [8, 11],
    **{f"{leg.lower()}_leg": [3 * i, 3 * i + 1, 3 * i + 2] for i, leg in enumerate(GO1_LEGS)},
}
GO1_FOOT_GROUPS: dict[str, list[int]] = {
    "foot_heights": [0, 1, 2, 3],
    "front_foot_heights": [0, 1],
    "rear_foot_heights": [2, 3],
    **{f"{leg.lower()}_foot_height": [i] for i, leg in enumerate(GO1_LEGS)},
}
# The Go1 joystick environment's stability penalties and their default scales.
GO1_STABILITY_SCALES = {"orientation": 5.0, "ang_vel_xy": 0.05, "lin_vel_z": 0.5}
_LEG_WORDS = {"fr": "front right", "fl": "front left", "rr": "rear right", "rl": "rear left"}


def _group_words(group: str) -> str:
    if group == "joint":
        return "all 12 joints (FR, FL, RR, RL legs; hip, thigh, calf each)"
    if group.endswith("_leg"):
        return f"the {_LEG_WORDS[group[:2]]} leg's hip, thigh and calf"
    place, _, part = group.rpartition("_")
    legs = {"": "all four", "front": "the two front", "rear": "the two rear"}[place]
    return f"{legs} {part} joints"


def go1_catalog() -> list[FeatureInfo]:
    pi = math.pi
    features = [
        _f("base_height", "m", 0.0, 0.6, "pose", "trunk height above the ground; 0.28 standing"),
        _f("forward_velocity", "m/s", -3.0, 3.0, "motion", "body-frame forward speed (negative: backwards)"),
        _f("lateral_velocity", "m/s", -2.0, 2.0, "motion", "body-frame sideways speed, positive to the left"),
        _f("vertical_velocity", "m/s", -3.0, 3.0, "motion", "world up-down speed of the trunk"),
        _f("yaw_rate", "rad/s", -8.0, 8.0, "motion", "turning speed, positive counter-clockwise"),
        _f("roll_rate", "rad/s", -15.0, 15.0, "motion", "side-to-side rocking speed"),
        _f("pitch_rate", "rad/s", -15.0, 15.0, "motion", "nose up-down rocking speed"),
        _f("roll", "rad", -pi, pi, "pose", "sideways tilt of the trunk, positive: left side up"),
        _f("pitch", "rad", -pi / 2, pi / 2, "pose", "nose tilt, positive: nose down, negative: nose up"),
        _f("upright", "1", -1.0, 1.0, "pose", "how upright the trunk is: 1 level, 0 on its side, -1 upside down"),
    ]
    for group, idx in GO1_JOINT_GROUPS.items():
        features.append(
            _f(f"{group}_angles", "rad", -pi, pi, "pose",
               f"angles of {_group_words(group)}, offset from the standing pose", size=len(idx))
        )
    for group in ("joint", "hip", "thigh", "calf"):
        idx = GO1_JOINT_GROUPS[group]
        features.append(
            _f(f"{group}_velocities", "rad/s", -30.0, 30.0, "motion",
               f"angular velocities of {_group_words(group)}", size=len(idx))
        )
    features.append(_f("joint_speed", "rad/s", 0.0, 30.0, "motion", "mean absolute joint velocity"))
    for name, idx in GO1_FOOT_GROUPS.items():
        which = "all four feet (FR, FL, RR, RL)" if name == "foot_heights" else name.replace("_", " ")
        features.append(
            _f(name, "m", 0.0, 0.6, "pose", f"height above the ground: {which}; about 0.02 on the ground", size=len(idx))
        )
    features += [
        _f("foot_contacts", "1", 0.0, 1.0, "contact", "1 where a foot touches the floor (FR, FL, RR, RL)", size=4),
        _f("feet_in_contact", "feet", 0.0, 4.0, "contact", "how many feet touch the floor"),
        _f("feet_air_time", "s", 0.0, 5.0, "contact", "time each foot has been off the floor (FR, FL, RR, RL)", size=4),
        _f("airborne", "1", 0.0, 1.0, "contact", "1 when all four feet are off the floor"),
        _f("action_rate", "1", 0.0, 50.0, "effort", "sum of squared changes of the action since the last step"),
        _f("action_magnitude", "1", 0.0, 5.0, "effort", "mean squared action"),
        _f("torque", "N m", 0.0, 50.0, "effort", "mean absolute motor torque"),
        _f("energy", "W", 0.0, 3000.0, "effort", "mechanical power: sum of |joint velocity * torque|"),
        _f("env_stability", "1", -100.0, 0.0, "stability",
           "the Go1 joystick environment's own stability penalties (tilt, roll/pitch rate, vertical "
           "speed, with its default scales); 0 is perfectly steady"),
        _f("task_reward", "1", -10.0, 10.0, "task", "the environment's own reward (joystick command tracking)"),
    ]
    return features + _clock_features()


def _go1_extractor(env) -> Callable:
    import jax.numpy as jnp
    import numpy as np

    model = env.mj_model
    names = [model.joint(i).name for i in range(1, model.njnt)]
    if tuple(names) != GO1_JOINTS:
        raise ValueError(f"unexpected Go1 joint order: {names}")
    default_pose = jnp.asarray(model.keyframe("home").qpos[7:], dtype=jnp.float32)
    feet_sites = np.array([model.site(leg).id for leg in GO1_LEGS])

    def sensor(name: str) -> tuple[int, int]:
        sid = model.sensor(name).id
        return int(model.sensor_adr[sid]), int(model.sensor_dim[sid])

    sensors = {n: sensor(n) for n in ("gyro", "local_linvel", "upvector", "global_linvel", "global_angvel")}
    contact_adr = np.array([sensor(f"{leg}_floor_found")[0] for leg in GO1_LEGS])
    dt = float(env.dt)

    def extract(tracked: dict, action, next_state) -> tuple[dict, dict]:
        data = next_state.data

        def read(name):
            adr, dim = sensors[name]
            return data.sensordata[adr : adr + dim]

        gyro, linvel, up = read("gyro"), read("local_linvel"), read("upvector")
        global_linvel, global_angvel = read("global_linvel"), read("global_angvel")
        w, x, y, z = data.qpos[3], data.qpos[4], data.qpos[5], data.qpos[6]
        roll = jnp.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
        pitch = jnp.arcsin(jnp.clip(2 * (w * y - z * x), -1.0, 1.0))
        angles = data.qpos[7:19] - default_pose
        velocities = data.qvel[6:18]
        foot_z = data.site_xpos[feet_sites, 2]
        contacts = (data.sensordata[contact_adr] > 0).astype(jnp.float32)
        air_time = (tracked[INFO_AIR_TIME] + dt) * (1.0 - contacts)
        force = data.actuator_force
        s = GO1_STABILITY_SCALES
        features = {
            "base_height": data.qpos[2],
            "forward_velocity": linvel[0],
            "lateral_velocity": linvel[1],
            "vertical_velocity": global_linvel[2],
            "yaw_rate": gyro[2],
            "roll_rate": gyro[0],
            "pitch_rate": gyro[1],
            "roll": roll,
            "pitch": pitch,
            "upright": up[2],
            **{f"{g}_angles": angles[jnp.array(idx)] for g, idx in GO1_JOINT_GROUPS.items()},
            **{f"{g}_velocities": velocities[jnp.array(GO1_JOINT_GROUPS[g])] for g in ("joint", "hip", "thigh", "calf")},
            "joint_speed": jnp.mean(jnp.abs(velocities)),
            **{n: (foot_z[idx[0]] if len(idx) == 1 else foot_z[jnp.array(idx)]) for n, idx in GO1_FOOT_GROUPS.items()},
            "foot_contacts": contacts,
            "feet_in_contact": jnp.sum(contacts),
            "feet_air_time": air_time,
            "airborne": jnp.prod(1.0 - contacts),
            "action_rate": jnp.sum(jnp.square(action - tracked[INFO_LAST_ACTION])),
            "action_magnitude": jnp.mean(jnp.square(action)),
            "torque": jnp.mean(jnp.abs(force)),
            "energy": jnp.sum(jnp.abs(velocities * force)),
            "env_stability": -(
                s["orientation"] * jnp.sum(jnp.square(up[:2]))
                + s["ang_vel_xy"] * jnp.sum(jnp.square(global_angvel[:2]))
                + s["lin_vel_z"] * jnp.square(global_linvel[2])
            ),
            "task_reward": next_state.reward,
            "time": data.time,
        }
        return features, {INFO_LAST_ACTION: action, INFO_AIR_TIME: air_time}

    return extract


# --- every other model ----------------------------------------------------------

_HINGE, _SLIDE, _FREE = 3, 2, 0


def _identifier(name: str, fallback: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else fallback


def _generic_joints(model) -> tuple[list[tuple[str, int, int, float, float, str]], int | None]:
    """(feature suffix, qpos address, dof address, low, high, unit) per 1-dof joint, and the
    first free joint's index."""
    joints, seen, free = [], set(), None
    for j in range(model.njnt):
        kind = int(model.jnt_type[j])
        if kind == _FREE and free is None:
            free = j
        if kind not in (_HINGE, _SLIDE):
            continue
        suffix = _identifier(model.joint(j).name, f"joint{j}")
        while suffix in seen:
            suffix = f"{suffix}_{j}"
        seen.add(suffix)
        unit = "rad" if kind == _HINGE else "m"
        if model.jnt_limited[j]:
            low, high = (float(v) for v in model.jnt_range[j])
        else:
            low, high = (-math.pi, math.pi) if kind == _HINGE else (-10.0, 10.0)
        joints.append((suffix, int(model.jnt_qposadr[j]), int(model.jnt_dofadr[j]), low, high, unit))
    return joints, free


def generic_catalog_from_model(model) -> list[FeatureInfo]:
    joints, free = _generic_joints(model)
    features = []
    for suffix, _, _, low, high, unit in joints:
        features.append(_f(f"pos_{suffix}", unit, low, high, "pose", f"position of joint {suffix}"))
    for suffix, *_, unit in joints:
        features.append(_f(f"vel_{suffix}", f"{unit}/s", -50.0, 50.0, "motion", f"velocity of joint {suffix}"))
    if joints:
        lows = [j[3] for j in joints]
        highs = [j[4] for j in joints]
        features += [
            _f("joint_positions", "rad or m", min(lows), max(highs), "pose",
               "every joint position, in the order above", size=len(joints)),
            _f("joint_velocities", "rad/s or m/s", -50.0, 50.0, "motion",
               "every joint velocity, in the order above", size=len(joints)),
            _f("joint_speed", "rad/s or m/s", 0.0, 50.0, "motion", "mean absolute joint velocity"),
        ]
    if free is not None:
        features += [
            _f("root_height", "m", -1.0, 5.0, "pose", "height of the free-floating root body"),
            _f("root_velocity_x", "m/s", -10.0, 10.0, "motion", "root velocity along world x (forward)"),
            _f("root_velocity_y", "m/s", -10.0, 10.0, "motion", "root velocity along world y"),
            _f("root_velocity_z", "m/s", -10.0, 10.0, "motion", "root velocity up-down"),
            _f("root_upright", "1", -1.0, 1.0, "pose", "1 when the root body's up axis points up, -1 upside down"),
        ]
    features += [
        _f("action_magnitude", "1", 0.0, 5.0, "effort", "mean squared action"),
        _f("action_rate", "1", 0.0, 100.0, "effort", "sum of squared changes of the action since the last step"),
        _f("task_reward", "1", -10.0, 10.0, "task", "the environment's own reward for its task"),
    ]
    return features + _clock_features()


def _generic_extractor(env) -> Callable:
    import jax.numpy as jnp

    model = env.mj_model
    joints, free = _generic_joints(model)
    qpos_adr = jnp.array([j[1] for j in joints], dtype=jnp.int32)
    dof_adr = jnp.array([j[2] for j in joints], dtype=jnp.int32)
    free_q = int(model.jnt_qposadr[free]) if free is not None else None
    free_v = int(model.jnt_dofadr[free]) if free is not None else None

    def extract(tracked: dict, action, next_state) -> tuple[dict, dict]:
        data = next_state.data
        features: dict[str, Any] = {}
        if joints:
            positions, velocities = data.qpos[qpos_adr], data.qvel[dof_adr]
            for i, (suffix, *_) in enumerate(joints):
                features[f"pos_{suffix}"] = positions[i]
                features[f"vel_{suffix}"] = velocities[i]
            features["joint_positions"] = positions
            features["joint_velocities"] = velocities
            features["joint_speed"] = jnp.mean(jnp.abs(velocities))
        if free_q is not None:
            qx, qy = data.qpos[free_q + 4], data.qpos[free_q + 5]
            features["root_height"] = data.qpos[free_q + 2]
            features["root_velocity_x"] = data.qvel[free_v]
            features["root_velocity_y"] = data.qvel[free_v + 1]
            features["root_velocity_z"] = data.qvel[free_v + 2]
            features["root_upright"] = 1.0 - 2.0 * (qx * qx + qy * qy)
        features["action_magnitude"] = jnp.mean(jnp.square(action))
        features["action_rate"] = jnp.sum(jnp.square(action - tracked[INFO_LAST_ACTION]))
        features["task_reward"] = next_state.reward
        features["time"] = data.time
        return features, {INFO_LAST_ACTION: action}

    return extract


# --- the public side --------------------------------------------------------------


@dataclass(frozen=True)
class Extractor:
    """Feature extraction for one loaded environment (jax-traceable, unbatched)."""

    family: str
    catalog: tuple[FeatureInfo, ...]
    extract: Callable[[dict, Any, Any], tuple[dict, dict]]
    """(tracked info, action, next_state) -> (features, new tracked info)."""
    tracked_init: Callable[[], dict]
    """The info entries extraction keeps between steps (last action, feet air time)."""
    tracked_keys: tuple[str, ...]


def catalog_for_env(env, family: str | None = None) -> list[FeatureInfo]:
    family = family or _family_of_env(env)
    return go1_catalog() if family == "go1" else generic_catalog_from_model(env.mj_model)


def _family_of_env(env) -> str:
    from tabrl.internals import is_go1

    return "go1" if is_go1(env) else "generic"


def make_extractor(env) -> Extractor:
    import jax.numpy as jnp

    family = _family_of_env(env)
    action_size = int(env.action_size)
    if family == "go1":
        extract = _go1_extractor(env)

        def tracked_init() -> dict:
            return {INFO_LAST_ACTION: jnp.zeros(action_size), INFO_AIR_TIME: jnp.zeros(4)}
    else:
        extract = _generic_extractor(env)

        def tracked_init() -> dict:
            return {INFO_LAST_ACTION: jnp.zeros(action_size)}

    keys = (INFO_LAST_ACTION, INFO_AIR_TIME) if family == "go1" else (INFO_LAST_ACTION,)
    return Extractor(family, tuple(catalog_for_env(env, family)), extract, tracked_init, keys)


def catalog_name(model_id: str) -> str:
    return versioned_name("features", model_id, ".json", FEATURES_VERSION)


def feature_catalog(model_id: str) -> list[FeatureInfo]:
    """The features a reward for `model_id` can use, with units and ranges.

    Go1 models need no environment; other models read joint names from the
    environment once, and the list is cached (`tabrl.rewards.cache`).
    """
    if feature_family(model_id) == "go1":
        return go1_catalog()
    path = find(catalog_name(model_id))
    if path is not None:
        try:
            return [FeatureInfo.model_validate(item) for item in json.loads(path.read_text())]
        except (ValueError, TypeError):
            pass  # a damaged cache is rebuilt below
    from tabrl.playground import load_env

    catalog = catalog_for_env(load_env(model_id), "generic")
    payload = json.dumps([info.model_dump() for info in catalog])
    write(catalog_name(model_id), lambda tmp: tmp.write_text(payload))
    return catalog


def stability_term_feature(family: str) -> str:
    """The feature the default stability term uses: Go1's own stability penalties, or
    the environment's reward for other models."""
    return "env_stability" if family == "go1" else "task_reward"
