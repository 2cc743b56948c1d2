"""`describe`: a behaviour report from the states of a rollout.

The states are those `tabrl.rendering.rollout_states` records for a video (frame k at
time k/fps), so the report describes exactly what the video shows. Everything is read
back through MuJoCo (`mj_forward` per frame): body poses, foot positions, contacts.
"""

from __future__ import annotations

import re

import numpy as np

import mujoco
from tabrl.behaviour.report import (
    CONTACT_DISTANCE,
    TRACE_HZ,
    UPRIGHT_COS,
    BehaviourReport,
    FootMotion,
    JointMotion,
    Traces,
)
from tabrl.behaviour.signals import decimation_step, dominant_oscillation
from tabrl.rewards.features import GO1_JOINTS, _generic_joints

_FREE, _HINGE = int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_HINGE)
FOOT_NAME = re.compile(r"^(fr|fl|rr|rl|hr|hl)$|foot|feet|toe", re.IGNORECASE)
"""Geoms named like this (Go1's FR/FL/RR/RL, the cheetah's bfoot/ffoot...) are feet."""


def _feet(model: mujoco.MjModel) -> list[tuple[str, np.ndarray, int | None]]:
    """(name, geom ids, site id or None) per foot: collidable geoms named like a foot,
    grouped by body. A site of the same name marks the foot's point (Go1); else the
    geoms' mean position is used."""
    by_body: dict[int, list[int]] = {}
    for g in range(model.ngeom):
        name = model.geom(g).name
        collides = model.geom_contype[g] or model.geom_conaffinity[g]
        if model.geom_bodyid[g] != 0 and collides and FOOT_NAME.search(name or ""):
            by_body.setdefault(int(model.geom_bodyid[g]), []).append(g)
    feet = []
    for body, geoms in by_body.items():
        name = model.geom(geoms[0]).name if len(geoms) == 1 else model.body(body).name
        site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
        feet.append((name, np.array(geoms), site if site >= 0 else None))
    return feet


def _home_qpos(model: mujoco.MjModel) -> np.ndarray:
    key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home")
    return model.key_qpos[key].copy() if key >= 0 else model.qpos0.copy()


def _roll_pitch(quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Roll (left side up positive) and pitch (nose down positive), as Go1's features."""
    w, x, y, z = quat.T
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return roll, pitch


def _trace(x: np.ndarray | None, step: int) -> list[float] | None:
    return None if x is None else [round(float(v), 4) for v in x[::step]]


def describe(model: mujoco.MjModel, states: dict[str, np.ndarray], fps: float, family: str) -> BehaviourReport:
    """Measure what the robot did in `states` (frame k at time k/fps); see `BehaviourReport`."""
    qpos, qvel = np.asarray(states["qpos"], float), np.asarray(states["qvel"], float)
    n = len(qpos)
    if n < 2:
        raise ValueError("a behaviour report needs at least two frames")
    duration = (n - 1) / fps
    body = int(model.jnt_bodyid[0]) if model.njnt else 1
    root_joints = [j for j in range(model.njnt) if model.jnt_bodyid[j] == body]
    floating = any(model.jnt_type[j] == _FREE for j in root_joints)
    rotates = floating or any(model.jnt_type[j] == _HINGE for j in root_joints)
    feet = _feet(model)
    foot_geoms = {int(g): i for i, (_, geoms, _) in enumerate(feet) for g in geoms}

    data = mujoco.MjData(model)
    pos, rot, quat = np.empty((n, 3)), np.empty((n, 3, 3)), np.empty((n, 4))
    foot_z, contact = np.zeros((n, len(feet))), np.zeros((n, len(feet)), bool)
    for i in range(n):
        data.qpos[:], data.qvel[:] = qpos[i], qvel[i]
        if model.nmocap and "mocap_pos" in states:
            data.mocap_pos[:], data.mocap_quat[:] = states["mocap_pos"][i], states["mocap_quat"][i]
        mujoco.mj_forward(model, data)
        pos[i], rot[i], quat[i] = data.xpos[body], data.xmat[body].reshape(3, 3), data.xquat[body]
        for f, (_, geoms, site) in enumerate(feet):
            foot_z[i, f] = data.site_xpos[site, 2] if site is not None else data.geom_xpos[geoms, 2].mean()
        for c in data.contact[: data.ncon]:
            g1, g2 = int(c.geom[0]), int(c.geom[1])
            for foot, other in ((g1, g2), (g2, g1)):
                if foot in foot_geoms and model.geom_bodyid[other] == 0 and c.dist < CONTACT_DISTANCE:
                    contact[i, foot_geoms[foot]] = True

    # Heading frame: the body's x-axis on the floor (world x for bodies that cannot yaw).
    heading = np.unwrap(np.arctan2(rot[:, 1, 0], rot[:, 0, 0])) if floating else np.zeros(n)
    mid = (heading[1:] + heading[:-1]) / 2
    step_xy = np.diff(pos[:, :2], axis=0)
    forward = step_xy[:, 0] * np.cos(mid) + step_xy[:, 1] * np.sin(mid)
    sideways = -step_xy[:, 0] * np.sin(mid) + step_xy[:, 1] * np.cos(mid)
    sway = np.concatenate([[0.0], np.cumsum(sideways)]) if floating else None

    if floating:
        roll, pitch = _roll_pitch(quat)
    elif rotates:  # planar models rotate about y: pitch over the full circle
        roll, pitch = None, np.unwrap(np.arctan2(-rot[:, 2, 0], rot[:, 0, 0]))
    else:
        roll = pitch = None
    up = rot[:, 2, 2] if rotates else None
    height = pos[:, 2]

    joints_info, _ = _generic_joints(model)
    actuated = {int(model.actuator_trnid[a, 0]) for a in range(model.nu)
                if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT}
    joint_of_qadr = {int(model.jnt_qposadr[j]): j for j in range(model.njnt)}
    home = _home_qpos(model)
    joints = []
    for suffix, qadr, dadr, *_ in joints_info:
        q, v = qpos[:, qadr], qvel[:, dadr]
        joints.append(JointMotion(
            name=suffix, actuated=joint_of_qadr[qadr] in actuated, mean=float(q.mean()),
            offset=float(q.mean() - home[qadr]), mean_velocity=float(v.mean()),
            rms_velocity=float(np.sqrt(np.mean(v**2))), oscillation=dominant_oscillation(q, fps),
        ))  # fmt: skip
    hinges = [(joint_of_qadr[j[1]] in actuated, j[2]) for j in joints_info if j[5] == "rad"]
    hinge_dofs = [dof for is_actuated, dof in hinges if is_actuated] or [dof for _, dof in hinges]
    joint_rms = float(np.sqrt(np.mean(qvel[:, hinge_dofs] ** 2))) if hinge_dofs else 0.0
    all_dofs = [j[2] for j in joints_info]
    joint_speed = float(np.mean(np.abs(qvel[:, all_dofs]))) if all_dofs else 0.0

    foot_reports, airborne, in_contact, air_time = [], None, None, None
    if feet:
        for f, (name, _, _) in enumerate(feet):
            foot_reports.append(FootMotion(
                name=name, duty_factor=float(contact[:, f].mean()), mean_height=float(foot_z[:, f].mean()),
                max_height=float(foot_z[:, f].max()), oscillation=dominant_oscillation(foot_z[:, f], fps),
            ))  # fmt: skip
        airborne = float((~contact.any(axis=1)).mean())
        in_contact = float(contact.sum(axis=1).mean())
        air = np.zeros(len(feet))
        total = 0.0
        for i in range(n):
            air = np.where(contact[i], 0.0, air + (1 / fps if i else 0.0))
            total += air.sum()
        air_time = float(total / (n * len(feet)))

    step = decimation_step(fps, TRACE_HZ)
    traces = Traces(
        hz=fps / step, time=[round(k / fps, 4) for k in range(0, n, step)], roll=_trace(roll, step),
        pitch=_trace(pitch, step), yaw=_trace(heading if floating else None, step), sway=_trace(sway, step),
        height=_trace(height, step), upright=_trace(up, step),
    )  # fmt: skip
    is_go1 = tuple(j[0] for j in joints_info) == tuple(name.lower() for name in GO1_JOINTS) and len(feet) == 4

    def osc(x: np.ndarray | None):
        return None if x is None else dominant_oscillation(x, fps)

    return BehaviourReport(
        family=family,
        features="go1" if is_go1 else "generic",
        body=model.body(body).name,
        floating_base=floating,
        fps=float(fps),
        seconds=n / fps,
        frames=n,
        upright_fraction=None if up is None else float((up > UPRIGHT_COS).mean()),
        upright_mean=None if up is None else float(up.mean()),
        height_mean=float(height.mean()),
        home_height=float(home[2]) if floating else None,
        height_std=float(height.std()),
        forward_speed=float(forward.sum() / duration),
        sideways_speed=float(sideways.sum() / duration),
        vertical_speed=float((height[-1] - height[0]) / duration),
        distance=float(np.linalg.norm(pos[-1, :2] - pos[0, :2])),
        path_length=float(np.linalg.norm(step_xy, axis=1).sum()),
        yaw_rate_mean=float((heading[-1] - heading[0]) / duration) if floating else None,
        total_turn=float(heading[-1] - heading[0]) if floating else None,
        roll_mean=None if roll is None else float(roll.mean()),
        pitch_mean=None if pitch is None else float(pitch.mean()),
        roll=osc(roll),
        pitch=osc(pitch),
        yaw=osc(heading) if floating else None,
        sway=osc(sway),
        height=osc(height),
        joint_rms_velocity=joint_rms,
        joint_speed=joint_speed,
        joints=joints,
        feet=foot_reports,
        airborne_fraction=airborne,
        feet_in_contact_mean=in_contact,
        mean_air_time=air_time,
        traces=traces,
    )
