"""Behaviour reports: descriptors recover known motion of the real Go1 (and dm_control)
models, intents are judged against them, and approaches are told apart."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mujoco
from tabrl.behaviour import describe, distinctness, judge, plain_words, summarize
from tabrl.rewards.library import osc, track
from tabrl.rewards.spec import RewardSpec, Term

FPS, SECONDS = 30, 10.0
T = np.arange(int(FPS * SECONDS)) / FPS


@pytest.fixture(scope="module")
def go1():
    from tabrl.playground import load_env

    return load_env("Go1JoystickFlatTerrain").mj_model


@pytest.fixture(scope="module")
def stand_z(go1):
    """Trunk height at which the home pose's feet press 1 mm into the floor, as they do
    when a simulation has settled (MuJoCo's contacts are soft)."""
    data = mujoco.MjData(go1)
    mujoco.mj_resetDataKeyframe(go1, data, mujoco.mj_name2id(go1, mujoco.mjtObj.mjOBJ_KEY, "home"))
    mujoco.mj_forward(go1, data)
    dists = [c.dist for c in data.contact[: data.ncon]]
    return float(data.qpos[2] - min(dists) - 0.001)


def go1_states(model, z, x=0.0, y=0.0, yaw=0.0, roll=0.0, pitch=0.0, thigh=None, thigh_vel=None):
    """Home pose moved by the given trajectories (arrays over T, or constants)."""
    n = len(T)
    home = model.key_qpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home")]
    qpos, qvel = np.tile(home, (n, 1)), np.zeros((n, model.nv))
    qpos[:, 0], qpos[:, 1], qpos[:, 2] = x, y, z
    angles = np.broadcast_to(np.stack(np.broadcast_arrays(roll, pitch, yaw, T)[:3], axis=1), (n, 3))
    for i, (r, p, w) in enumerate(angles):
        mujoco.mju_euler2Quat(qpos[i, 3:7], np.array([r, p, w]), "XYZ")  # intrinsic: yaw, then pitch, then roll
    if thigh is not None:
        thighs = [7 + 3 * leg + 1 for leg in range(4)]
        qpos[:, thighs] += thigh[:, None]
        qvel[:, [q - 1 for q in thighs]] = thigh_vel[:, None]
    return {"qpos": qpos, "qvel": qvel, "mocap_pos": np.zeros((n, 0, 3)), "mocap_quat": np.zeros((n, 0, 4))}


def spec(*terms, clock_hz=1.0) -> RewardSpec:
    return RewardSpec(clock_hz=clock_hz, terms=list(terms))


def statuses(results):
    return {r.term: r.status for r in results}


@pytest.fixture(scope="module")
def sway(go1, stand_z):
    return describe(go1, go1_states(go1, stand_z, y=0.04 * np.sin(2 * np.pi * 1.4 * T)), FPS, "locomotion")


@pytest.fixture(scope="module")
def rolling(go1, stand_z):
    return describe(go1, go1_states(go1, stand_z, roll=0.12 * np.sin(2 * np.pi * 1.5 * T)), FPS, "locomotion")


@pytest.fixture(scope="module")
def walking(go1, stand_z):
    """0.5 m/s along a heading of 0.3 rad, thighs swinging 0.3 rad at 2 Hz."""
    heading, w = 0.3, 2 * np.pi * 2.0
    states = go1_states(
        go1, stand_z, x=0.5 * T * np.cos(heading), y=0.5 * T * np.sin(heading), yaw=heading,
        thigh=0.3 * np.sin(w * T), thigh_vel=0.3 * w * np.cos(w * T),
    )  # fmt: skip
    return describe(go1, states, FPS, "locomotion")


@pytest.fixture(scope="module")
def turning(go1, stand_z):
    return describe(go1, go1_states(go1, stand_z, yaw=1.0 * T), FPS, "locomotion")


def test_a_hip_sway_is_measured_in_centimetres_and_hertz(sway):
    assert sway.floating_base and sway.features == "go1" and sway.body == "trunk"
    assert sway.sway.frequency == pytest.approx(1.4, abs=0.05)
    assert sway.sway.amplitude == pytest.approx(0.04, rel=0.05)
    assert sway.sway.share > 0.9
    assert sway.upright_fraction == 1.0
    assert sway.roll is None and sway.yaw is None  # nothing else moved
    assert abs(sway.forward_speed) < 0.01 and sway.distance < 0.1
    assert [f.duty_factor for f in sway.feet] == [1.0] * 4  # paws planted
    assert sway.airborne_fraction == 0.0 and sway.feet_in_contact_mean == 4.0
    words = plain_words(sway)
    assert "sways its hips 4 cm at 1.4 Hz" in words and "stays upright 100%" in words
    assert "travels 0.0 m" in words


def test_a_roll_and_the_feet_it_lifts(rolling):
    assert rolling.roll.frequency == pytest.approx(1.5, abs=0.05)
    assert rolling.roll.amplitude == pytest.approx(0.12, rel=0.05)
    assert abs(rolling.roll_mean) < 0.01 and rolling.pitch is None
    # Rolling lifts one side, then the other: every foot is down part of the time only.
    duty = {f.name: f.duty_factor for f in rolling.feet}
    assert set(duty) == {"FR", "FL", "RR", "RL"}
    assert all(0.3 < d < 0.8 for d in duty.values())
    assert duty["FR"] == pytest.approx(duty["RR"]) and duty["FL"] == pytest.approx(duty["RL"])
    # The sideways trace is short enough for a plot and follows the roll.
    assert rolling.traces.hz <= 10 and len(rolling.traces.roll) == len(rolling.traces.time) <= 101
    assert max(rolling.traces.roll) == pytest.approx(0.12, abs=0.01)
    assert "rolls 7° at 1.5 Hz" in plain_words(rolling)


def test_walking_forward_is_measured_in_the_heading_frame(walking):
    assert walking.forward_speed == pytest.approx(0.5, rel=0.02)
    assert abs(walking.sideways_speed) < 0.01
    assert walking.distance == pytest.approx(0.5 * (len(T) - 1) / FPS, rel=0.01)
    assert walking.total_turn == pytest.approx(0.0, abs=1e-6)
    # Only the four thighs move, 0.3 rad at 2 Hz: RMS over the 12 hinges is
    # A w / sqrt(2) * sqrt(4 / 12).
    expected = 0.3 * 2 * np.pi * 2.0 / math.sqrt(2) * math.sqrt(4 / 12)
    assert walking.joint_rms_velocity == pytest.approx(expected, rel=0.03)
    thighs = [j for j in walking.joints if "thigh" in j.name]
    assert all(j.oscillation.frequency == pytest.approx(2.0, abs=0.05) for j in thighs)
    assert "moves forward at 0.5 m/s" in plain_words(walking)


def test_turning_is_unwrapped(turning):
    assert turning.yaw_rate_mean == pytest.approx(1.0, rel=0.01)
    assert turning.total_turn == pytest.approx((len(T) - 1) / FPS, rel=0.01)  # well past 2 pi
    assert turning.distance < 0.01
    assert "turns 571° left" in plain_words(turning)


def test_falling_over_halfway_is_upright_half_the_time(go1, stand_z):
    roll = np.where(T < 5.0, 0.0, np.pi / 2)
    z = np.where(T < 5.0, stand_z, 0.1)
    report = describe(go1, go1_states(go1, z, roll=roll), FPS, "locomotion")
    assert report.upright_fraction == pytest.approx(0.5, abs=1 / FPS)
    assert report.height_std > 0.05
    assert "is upright 50% of the time" in plain_words(report)
    assert "rolls" not in plain_words(report)  # a fall is not an oscillation


def test_judge_meets_matching_targets_and_misses_others(rolling, walking, sway):
    asks = [osc("body_roll", "roll", 0.12, 1.5, 0.1), osc("fast_roll", "roll", 0.12, 3.0, 0.1),
            osc("big_roll", "roll", 0.3, 1.5, 0.1)]  # one spec each: a spec has one oscillate per feature
    results = [judge(spec(term), rolling)[0] for term in asks]
    assert statuses(results) == {"body_roll": "met", "fast_roll": "not met", "big_roll": "partly"}
    met = results[0]
    assert (met.target, met.target_frequency, met.unit) == (0.12, 1.5, "rad")
    assert met.measured == pytest.approx(0.12, rel=0.05) and "met" in met.sentence and "1.5 Hz" in met.sentence

    walk = spec(track("walk", "forward_velocity", 0.5, 0.2, 1.5), track("crab", "lateral_velocity", 0.5, 0.2, 0.5),
                osc("thigh_beats", "thigh_angles", 0.3, 2.0, 0.15), osc("sway", "lateral_velocity", 0.2, 1.4, 0.1),
                Term(name="smooth", kind="linear", feature="action_rate", weight=-0.02))  # fmt: skip
    verdicts = judge(walk, walking)
    assert statuses(verdicts) == {"walk": "met", "crab": "not met", "thigh_beats": "met", "sway": "not met"}
    summary = summarize(walk, verdicts)  # the effort term is not an intent
    assert (summary.met, summary.not_met, summary.main_term, summary.main_met) == (2, 2, "walk", True)

    # A sway of 4 cm at 1.4 Hz is a sideways velocity of 0.04 * 2 pi 1.4 = 0.35 m/s amplitude.
    lateral = judge(spec(osc("sway", "lateral_velocity", 0.35, 0.0, 0.1), clock_hz=1.4), sway)[0]
    assert lateral.status == "met" and lateral.measured == pytest.approx(0.35, rel=0.05)


def test_judge_levels_maximize_and_the_command(turning, stand_z):
    results = judge(spec(track("spin", "yaw_rate", 1.0, 0.5), track("height", "base_height", stand_z - 0.05, 0.04),
                         Term(name="more_air", kind="maximize", feature="airborne", target=0.0, tolerance=0.2),
                         Term(name="paws", kind="maximize", feature="feet_in_contact", target=3.0, tolerance=1.0),
                         Term(name="beat", kind="expression", expression="clock_sin * 2")),
                    turning, command=(0.0, 0.0, 1.0))  # fmt: skip
    assert statuses(results) == {"spin": "met", "height": "partly", "more_air": "partly", "paws": "met",
                                 "beat": "not measured", "command": "met"}  # fmt: skip
    assert statuses(judge(spec(track("spin", "yaw_rate", 1.0, 0.5)), turning, command=(0.5, 0.0, 0.0)))["command"] == "not met"


def test_distinctness(sway, rolling, walking, turning):
    same = distinctness([sway, sway, sway])
    assert same.minimum == 0.0 and not same.distinct and len(same.pairs) == 3
    different = distinctness([sway, walking, turning])
    assert different.distinct and different.minimum >= 1.0
    assert different.minimum == min(p.distance for p in different.pairs)
    walk_vs_turn = next(p for p in different.pairs if (p.first, p.second) == (1, 2))
    assert {"yaw_rate_mean", "forward_speed"} <= set(walk_vs_turn.largest)
    # A sway and a roll are both side-to-side, but not the same thing.
    assert distinctness([sway, rolling]).distinct


@pytest.fixture(scope="module")
def cheetah():
    from tabrl.playground import load_env

    return load_env("CheetahRun").mj_model


def test_planar_cheetah_runs_and_pitches(cheetah):
    n = len(T)
    qpos, qvel = np.tile(cheetah.qpos0, (n, 1)), np.zeros((n, cheetah.nv))
    qpos[:, 0] = 1.2 * T  # rootx
    qpos[:, 2] = 0.2 * np.sin(2 * np.pi * 2.5 * T)  # rooty: pitch
    report = describe(cheetah, {"qpos": qpos, "qvel": qvel}, FPS, "dm_control_suite")
    assert not report.floating_base and report.body == "torso" and report.features == "generic"
    assert report.forward_speed == pytest.approx(1.2, rel=0.01)
    assert report.pitch.frequency == pytest.approx(2.5, abs=0.05)
    assert report.pitch.amplitude == pytest.approx(0.2, rel=0.05)
    assert report.roll is None and report.yaw is None and report.yaw_rate_mean is None
    assert {f.name for f in report.feet} == {"bfoot", "ffoot"}
    results = judge(spec(osc("rock", "pos_rooty", 0.2, 2.5, 0.1), track("spin", "yaw_rate", 1.0, 0.5)), report)
    assert statuses(results) == {"rock": "met", "spin": "not measured"}


def test_a_real_cartpole_rollout_is_described():
    from tabrl.playground import load_env
    from tabrl.rendering import rollout_states

    env = load_env("CartpoleBalance")
    states = rollout_states(env, lambda obs, key: np.ones(env.action_size), seconds=2.0, fps=FPS)
    report = describe(env.mj_model, states, FPS, "dm_control_suite")
    assert report.frames == 2 * FPS and report.seconds == 2.0 and report.body == "cart"
    assert report.upright_fraction is None and report.feet == [] and report.roll is None
    assert [j.name for j in report.joints] == ["slider", "hinge_1"]
    # Full push one way: the cart speeds up along x, the pole swings back.
    assert report.forward_speed > 0.1 and report.distance > 0.2
    assert report.joints[0].mean_velocity > 0.1 and report.joint_rms_velocity > 0
    results = judge(spec(track("centre", "pos_slider", 0.0, 0.1), Term(name="move", kind="maximize",
                                                                      feature="joint_speed", target=0.0)), report)  # fmt: skip
    assert statuses(results)["centre"] == "not met" and results[0].measured == pytest.approx(report.joints[0].mean)
    assert "travels" in plain_words(report) and "rad/s RMS" in plain_words(report)


def test_a_standing_go1_under_real_physics(go1):
    """Plain MuJoCo (no MJX): hold the home pose with the position actuators for 1 s."""
    data = mujoco.MjData(go1)
    key = mujoco.mj_name2id(go1, mujoco.mjtObj.mjOBJ_KEY, "home")
    mujoco.mj_resetDataKeyframe(go1, data, key)
    frames, per_frame = [], max(1, round(1 / FPS / go1.opt.timestep))
    for _ in range(FPS):
        frames.append((data.qpos.copy(), data.qvel.copy()))
        data.ctrl[:] = go1.key_ctrl[key]
        for _ in range(per_frame):
            mujoco.mj_step(go1, data)
    states = {"qpos": np.array([f[0] for f in frames]), "qvel": np.array([f[1] for f in frames])}
    report = describe(go1, states, FPS, "locomotion")
    assert report.upright_fraction == 1.0
    assert 0.2 < report.height_mean < 0.35
    assert min(f.duty_factor for f in report.feet) > 0.9 and report.airborne_fraction == 0.0
