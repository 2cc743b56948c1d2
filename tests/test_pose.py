"""The approach's pose (tabrl.pose): read off the reward's terms, bounded, shown in words,
and made by shifting Playground's Go1 nominal pose, a private attribute whose use must fail
loudly when an upgrade moves it. The rollouts that show the Go1 crouching, bowing and
swinging its hips are in tests/test_base_policy.py (one compiled rollout for all)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from pydantic import ValidationError

from tabrl.pose import PLAYGROUND_VERSIONS, joint_offsets, pose_values, shifted_default_pose
from tabrl.rewards.library import POSE_FOLLOW, STAND_HEIGHT, go1_behaviours, with_controls, with_pose
from tabrl.rewards.spec import Pose, RewardSpec, Term


def _approach(behaviour: str, name: str):
    found = {b.key: b for b in go1_behaviours()}[behaviour]
    return next(a for a in found.approaches if a.name == name)


def test_the_library_reads_the_pose_off_the_terms_and_asks_for_what_it_gives():
    hula = _approach("hula", "Hula Hip Sway").reward
    assert hula.pose is not None and hula.pose.hips > 0.2 and hula.pose.beat_hz == 1.5
    sway = next(t for t in hula.terms if t.name == "hip_sway")
    assert sway.amplitude == pytest.approx(hula.pose.hips * POSE_FOLLOW["hips"], abs=1e-3)
    assert hula.clock_hz == 1.5  # the strongest rhythm is the clock the policy sees

    crouch = _approach("crouch", "Low Crouch").reward  # asks for 0.18 m: below what the base does
    assert crouch.pose.height == -0.1
    assert next(t for t in crouch.terms if t.name == "crouch").target == pytest.approx(STAND_HEIGHT - 0.1)

    bow = _approach("bow", "Polite Bow").reward
    assert bow.pose.pitch > 0 and bow.pose.height < 0

    spin = _approach("spin", "Spin in Place").reward  # nothing about the pose: none
    assert spin.pose is None


def test_specs_from_elsewhere_get_the_same_pose_and_other_models_none():
    terms = [Term(name="low", kind="track", feature="base_height", target=0.22, tolerance=0.03, weight=1.0),
             Term(name="wag", kind="oscillate", feature="hip_angles", amplitude=0.2, frequency=2.0,
                  tolerance=0.1, weight=0.5)]
    spec = RewardSpec(terms=terms)
    posed = with_pose(spec, "go1")  # an LLM's spec with its own command keeps it; the pose is added
    assert posed.pose == with_controls(spec, "go1").pose
    assert posed.pose.height == pytest.approx(0.22 - STAND_HEIGHT) and posed.pose.beat_hz == 2.0
    assert with_pose(spec, "generic").pose is None and with_controls(spec, "generic").pose is None
    own = spec.model_copy(update={"pose": Pose(pitch=0.1)})
    assert with_pose(own, "go1").pose == Pose(pitch=0.1)  # a pose given is kept


def test_a_pose_out_of_range_is_refused_in_one_sentence():
    with pytest.raises(ValidationError, match="less than or equal to 0.3"):
        Pose(pitch=0.35)  # measured: the base tips over past 0.3 rad nose down
    with pytest.raises(ValidationError, match="pose height -0.08 with bob 0.04 leaves"):
        Pose(height=-0.08, bob=0.04)
    with pytest.raises(ValidationError):
        RewardSpec.model_validate({"terms": [{"name": "x", "kind": "track", "feature": "pitch"}],
                                   "pose": {"hips": "wide"}})


def test_the_pose_in_words():
    assert Pose(height=-0.08, hips=0.2, beat_hz=2).describe() == "crouch 8 cm, hips ±11° at 2 Hz"
    assert Pose(pitch=0.25, nod=0.05).describe() == "nose down 14°, nod ±3° at 1 Hz"
    assert Pose(height=-0.004).is_neutral() and Pose().describe() == "standing pose"
    spec = RewardSpec(terms=[Term(name="x", kind="track", feature="pitch")], pose=Pose(height=0.04))
    assert spec.controls_words() == "rise 4 cm"


def test_joint_offsets_keep_each_foot_under_its_hip():
    """Thigh a, calf -2a: the foot stays below the hip; a crouch bends every leg alike,
    a bow shortens the front legs, a hip swing moves all four hips together."""
    crouch = np.asarray(joint_offsets(pose_values(Pose(height=-0.08)), 0.0)).reshape(4, 3)
    assert np.allclose(crouch[:, 1], crouch[0, 1]) and crouch[0, 1] > 0.1
    assert np.allclose(crouch[:, 2], -2 * crouch[:, 1]) and np.allclose(crouch[:, 0], 0)
    bow = np.asarray(joint_offsets(pose_values(Pose(pitch=0.2)), 0.0)).reshape(4, 3)
    assert bow[0, 1] > 0 > bow[2, 1]  # front legs bend (shorter), rear legs straighten
    swing = pose_values(Pose(hips=0.3, beat_hz=1.0))
    quarter = np.asarray(joint_offsets(swing, 0.25)).reshape(4, 3)
    assert np.allclose(quarter[:, 0], 0.3) and np.allclose(np.asarray(joint_offsets(swing, 0.0)), 0, atol=1e-6)


def test_the_private_pose_attribute_is_where_tabrl_pose_expects_it():
    """Fails on a Playground upgrade until someone checks `tabrl.pose` against it."""
    from importlib.metadata import version

    from mujoco_playground._src.locomotion.go1 import joystick

    assert version("playground").startswith(PLAYGROUND_VERSIONS)
    step = inspect.getsource(joystick.Joystick.step)
    assert "self._default_pose + action * self._config.action_scale" in step
    assert "noisy_joint_angles - self._default_pose" in inspect.getsource(joystick.Joystick._get_obs)

    class Env:
        _default_pose = np.zeros(12)

    env = Env()
    with shifted_default_pose(env, np.ones(12)):
        assert env._default_pose.sum() == 12
    assert env._default_pose.sum() == 0
