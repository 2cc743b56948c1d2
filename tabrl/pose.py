"""The approach's posture: a shift of the joint pose a legged base policy stands on.

Playground's Go1 policies act around a nominal joint pose (`_default_pose`, the "home"
keyframe): the motor targets are `default_pose + 0.5 * action` and the policy observes
its joint angles as `angle - default_pose`. Shift that pose and the base policy keeps
doing what it learned, balancing and stepping, around the new one. So an approach that
asks for a crouch, a bow, a tilt, a bounce or swinging hips (`Pose`) gets it from the
first step, and the fine-tune refines it; without this a 200k-step fine-tune learns
almost none of it (`BEHAVIOUR.md`). It is the reference-motion-plus-residual idea of
motion-imitation work, with the reference made from the reward's own numbers.

The body pose (height, pitch, roll) becomes joint offsets through the leg's
kinematics: each foot stays under its hip, at the leg length that puts the body there
(thigh angle `a`, calf `-2a`, length `2 L cos a`, as the home pose is). The hip swing
moves all four hip (abduction) joints the same way, which swings the body side to side.

The shift is made by setting the environment's `_default_pose` for the duration of
one traced step (`shifted_default_pose`): a private attribute of Playground's Go1
environments, used in `tabrl.internals` and checked there against the version
it was written for (`tests/test_pose.py` fails loudly when an upgrade moves it).
"""

from __future__ import annotations

import math

from tabrl import internals as _internals

PLAYGROUND_VERSIONS = _internals.PLAYGROUND_VERSIONS
shifted_default_pose = _internals.shifted_default_pose
"""The guarded internal: see `tabrl.internals.shifted_default_pose`."""

# Go1's legs (Menagerie's go1.xml): hip joint 0.1881 m ahead of / behind the trunk's
# centre, the foot 0.04675 + 0.08 m to the side, thigh and calf 0.213 m each.
HIP_X = 0.1881
FOOT_Y = 0.04675 + 0.08
LINK = 0.213
HOME_THIGH = 0.9
LEG_SIGNS = ((1.0, -1.0), (1.0, 1.0), (-1.0, -1.0), (-1.0, 1.0))
"""(front +1 / rear -1, left +1 / right -1) for FR, FL, RR, RL: the qpos order."""


def pose_values(pose=None) -> dict:
    """The numbers `ControlledEnv` holds for a `Pose` (None: no shift)."""
    import numpy as np

    if pose is None:
        return {"hold": np.zeros(3, np.float32), "swing": np.zeros(3, np.float32),
                "beat_hz": np.asarray(1.0, np.float32)}
    return {"hold": np.asarray([pose.height, pose.pitch, pose.roll], np.float32),
            "swing": np.asarray([pose.bob, pose.nod, pose.hips], np.float32),
            "beat_hz": np.asarray(pose.beat_hz, np.float32)}


def joint_offsets(values: dict, time):
    """The 12 joint offsets (FR, FL, RR, RL x hip, thigh, calf) for the pose at `time`."""
    import jax.numpy as jnp

    wave = jnp.sin(2 * jnp.pi * values["beat_hz"] * time)
    height = values["hold"][0] + values["swing"][0] * wave
    pitch = values["hold"][1] + values["swing"][1] * wave
    roll = values["hold"][2]
    hips = values["swing"][2] * wave
    home_length = 2 * LINK * math.cos(HOME_THIGH)
    offsets = []
    for front, left in LEG_SIGNS:
        # nose down (pitch > 0) shortens the front legs; left side up (roll > 0) lengthens the left
        length = home_length + height - front * HIP_X * jnp.sin(pitch) + left * FOOT_Y * jnp.sin(roll)
        thigh = jnp.arccos(jnp.clip(length / (2 * LINK), 0.3, 0.97))
        offsets += [hips, thigh - HOME_THIGH, -2 * (thigh - HOME_THIGH)]
    return jnp.stack(offsets)


def posable(env) -> bool:
    """Whether `env` (unwrapped) stands on a Go1 nominal pose that `Pose` can shift."""
    import numpy as np

    pose = getattr(env, "_default_pose", None)
    return (type(env).__module__.startswith("mujoco_playground._src.locomotion.go1.")
            and pose is not None and tuple(np.shape(pose)) == (12,))
