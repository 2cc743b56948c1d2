"""Base policies converted from MuJoCo Playground's ONNX files (tabrl import-policy).

The committed Go1 base must act exactly like the ONNX graph it came from, stand
still at command zero and walk at the commanded speed in TabRL's own rollout
(the one the videos use), and a wrong file or model must be refused.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tabrl.base_policy import PolicyFileError, import_policy, onnx_actions, read_onnx_policy
from tabrl.catalog import BASE_POLICY_ROOT

GO1 = "Go1JoystickFlatTerrain"
SOURCE = BASE_POLICY_ROOT / "sources" / "go1_policy.onnx"


def test_the_go1_bases_are_committed_with_their_provenance():
    for model in (GO1, "Go1JoystickRoughTerrain"):
        record = json.loads((BASE_POLICY_ROOT / model / "base_policy.json").read_text())
        assert record["source"] == "go1_policy.onnx"
        assert record["source_sha256"].startswith("386cde6a1eac679e")
        assert "Apache-2.0" in record["license"]
        assert record["check"]["max_abs_difference"] < 1e-5
    notice = (BASE_POLICY_ROOT / "NOTICE").read_text()
    assert "Apache License" in notice and "go1_policy.onnx" in notice


def test_the_committed_base_acts_like_the_onnx_graph():
    """Brax's deterministic action from the committed checkpoint equals the ONNX graph's
    output, evaluated by onnx's own reference evaluator, on random observations."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    from tabrl.training import PPOConfig, checkpoint_networks, load_params, policy_env, read_checkpoint_config

    checkpoint = BASE_POLICY_ROOT / GO1
    meta = read_checkpoint_config(checkpoint)
    env = policy_env(GO1)
    networks, _ = checkpoint_networks(PPOConfig.model_validate(meta["ppo"]), env)
    params = load_params(checkpoint)
    policy = read_onnx_policy(SOURCE)
    rng = np.random.default_rng(7)
    raw = (policy.mean + rng.normal(size=(32, 48)) / policy.inv_std).astype(np.float32)
    sizes = env.observation_size
    obs = {key: np.zeros((32, shape[-1]), np.float32) for key, shape in sizes.items()}
    obs["state"] = np.concatenate([raw, rng.normal(size=(32, 2)).astype(np.float32) * 0 + [[0.3, -0.9]]], axis=1)
    act = ppo_networks.make_inference_fn(networks)(params[:2], deterministic=True)
    actual = np.asarray(jax.jit(act)(obs, jax.random.PRNGKey(0))[0])
    np.testing.assert_allclose(actual, onnx_actions(SOURCE, raw), atol=1e-5)


def test_a_file_that_is_not_an_onnx_policy_is_refused(tmp_path):
    garbage = tmp_path / "policy.onnx"
    garbage.write_bytes(b"\x08\x01 not a model at all")
    with pytest.raises(PolicyFileError, match="not a readable ONNX model|not a Playground policy graph"):
        read_onnx_policy(garbage)


def test_an_onnx_graph_of_another_shape_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["obs"], ["out"])], "not_a_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
    )
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(PolicyFileError, match="expected obs -> Sub"):
        read_onnx_policy(path)


def test_a_policy_for_another_model_is_refused_with_the_sizes(tmp_path):
    with pytest.raises(PolicyFileError, match="reads 48 observation entries; CartpoleBalance"):
        import_policy(SOURCE, "CartpoleBalance", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_cli_refuses_a_wrong_model_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tabrl_cli", "import-policy", "--onnx", str(SOURCE), "--model", "CartpoleBalance",
         "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "reads 48 observation entries" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_go1_base_follows_the_approach_command_and_pose():
    """In TabRL's rollout (the one the videos use), the base's deterministic action for 10 s:
    it stands at command zero, walks at 1 m/s when told, and stands on a shifted pose
    (`tabrl.pose`): crouches, bows, swings its hips on the beat, staying upright."""
    from tabrl.behaviour import describe
    from tabrl.controls import CONTROLS_KEY, controls_of
    from tabrl.rewards.spec import Command, Pose, RewardSpec, Term
    from tabrl.rollout import collect
    from tabrl.training import PPOConfig, checkpoint_networks, load_params, policy_env, read_checkpoint_config

    checkpoint = BASE_POLICY_ROOT / GO1
    env = policy_env(GO1)
    networks, _ = checkpoint_networks(PPOConfig.model_validate(read_checkpoint_config(checkpoint)["ppo"]), env)
    params = load_params(checkpoint)
    steps = int(round(10.0 / env.dt))
    cases = {"stand": (Command(), None), "walk": (Command(forward=1.0), None),
             "crouch": (Command(), Pose(height=-0.08)), "bow": (Command(), Pose(pitch=0.25)),
             "hula": (Command(), Pose(hips=0.3, beat_hz=1.5))}
    reports, travelled = {}, {}
    for name, (command, pose) in cases.items():
        spec = RewardSpec(terms=[Term(name="up", kind="track", feature="upright", target=1.0)],
                          command=command, pose=pose)
        data = collect(env, networks, params, num_envs=1, steps=steps, deterministic=True,
                       info={CONTROLS_KEY: controls_of(spec)})
        qpos = data["qpos"][:, 0]
        assert not data["done"].any(), f"the episode ended (a fall): {name}"
        w, x, y, z = qpos[:, 3:7].T
        up_z = 1 - 2 * (x * x + y * y)  # the body's z axis, against world z
        assert up_z.min() > 0.85, f"tilted: {name}: {up_z.min():.2f}"
        travelled[name] = np.linalg.norm(qpos[-1, :2] - qpos[0, :2]) / 10.0
        reports[name] = describe(env.mj_model, {"qpos": qpos, "qvel": data["qvel"][:, 0]}, 1 / env.dt, "go1")
    assert travelled["stand"] < 0.1, f"drifted {travelled['stand']:.2f} m/s standing"
    assert travelled["walk"] >= 0.7, f"walked only {travelled['walk']:.2f} m/s at a 1 m/s command"
    lowered = reports["stand"].height_mean - reports["crouch"].height_mean
    assert 0.06 <= lowered <= 0.1, f"a 0.08-m crouch lowered the body {lowered:.3f} m"
    assert reports["bow"].pitch_mean > 0.15, f"a 0.25-rad bow pitched it {reports['bow'].pitch_mean:.2f} rad"
    hip = reports["hula"].joints[0].oscillation  # FR hip, swinging with the others
    assert hip is not None and abs(hip.frequency - 1.5) < 0.2 and hip.amplitude > 0.2, hip
    assert reports["stand"].joints[0].oscillation is None or reports["stand"].joints[0].oscillation.amplitude < 0.05
