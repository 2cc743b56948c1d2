"""`tabrl pretrain` with a tiny budget on the CPU, and fine-tuning from what it wrote.

The real Go1 base policy is Playground's 200M-step joystick recipe on a GPU; this
builds and checks the same command path on CartpoleBalance in a few thousand steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tabrl_cli.main import main


@pytest.mark.slow
def test_pretrain_then_fine_tune_from_it(tmp_path, capsys):
    from flax import serialization

    from tabrl.training import train_approach

    base = tmp_path / "base"
    assert main(["pretrain", "--model", "CartpoleBalance", "--steps", "3000", "--out", str(base), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {p.name for p in base.iterdir()} >= {"config.json", "params.msgpack", "training.json"}
    assert json.loads((base / "training.json").read_text()) == record
    assert record["model_id"] == "CartpoleBalance" and record["env_steps"] >= 3000
    assert record["seconds"] > 0 and record["final_reward"] is not None
    assert record["device"].startswith("cpu") and record["date"]
    assert record["size_bytes"] < 2_000_000  # small enough to commit
    assert record["config"] == "TabRL's budget-scaled config"  # the CPU default

    # An existing checkpoint is not overwritten by accident.
    assert main(["pretrain", "--model", "CartpoleBalance", "--steps", "3000", "--out", str(base)]) == 2
    assert "--force" in capsys.readouterr().err

    tuned = train_approach("CartpoleBalance", None, num_steps=3000, out_dir=tmp_path / "tuned",
                           base_checkpoint=base)
    assert Path(tuned.checkpoint) == tmp_path / "tuned"
    # Brax restored the base's observation normalizer and kept counting from it.
    def count(path) -> int:
        state = serialization.msgpack_restore((path / "params.msgpack").read_bytes())["0"]["count"]
        if isinstance(state, dict):  # Brax's UInt64: two uint32 halves
            return (int(state["hi"]) << 32) + int(state["lo"])
        return int(np.asarray(state))

    assert count(base) > 0
    assert count(tmp_path / "tuned") > count(base)


def test_a_gpu_base_policy_trains_with_playgrounds_recipe_as_it_is():
    """The Go1 base policy is owed a GPU run; what it will train with is checked here."""
    from mujoco_playground.config import locomotion_params

    from tabrl.training import recipe_ppo_config, scaled_ppo_config

    recipe = locomotion_params.brax_ppo_config("Go1JoystickFlatTerrain")
    config = recipe_ppo_config("Go1JoystickFlatTerrain")
    for field in ("num_timesteps", "num_envs", "batch_size", "num_minibatches", "unroll_length",
                  "num_updates_per_batch", "num_evals", "episode_length", "learning_rate", "entropy_cost",
                  "discounting", "reward_scaling", "max_grad_norm", "num_resets_per_eval"):
        assert getattr(config, field) == recipe[field], field
    assert config.network.policy_hidden_layer_sizes == list(recipe.network_factory.policy_hidden_layer_sizes)
    assert config.network.value_obs_key == recipe.network_factory.value_obs_key == "privileged_state"
    # What the scaled config would have done with the same budget: far fewer gradient steps.
    scaled = scaled_ppo_config("Go1JoystickFlatTerrain", config.num_timesteps, accelerator=True)
    assert scaled.num_minibatches * 8 <= config.num_minibatches
    assert recipe_ppo_config("Go1JoystickFlatTerrain", 5_000_000).num_timesteps == 5_000_000
