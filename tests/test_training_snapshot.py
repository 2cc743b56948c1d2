"""Resuming a training run a restart cut off (`train_approach`'s `snapshot_dir` and
`resume_from`), with real tiny PPO on CartpoleBalance: snapshots are whole checkpoints,
a resumed run trains only the epochs left, its steps and history continue, it runs the
same compiled program, and the checkpoints load without their environment."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

PROMPT = "Swing the pole wildly but never let it fall"
STEPS = 2000
"""As tests/test_training.py: 4 epochs of 640 steps on CartpoleBalance."""


def test_remaining_config_keeps_the_epoch_length():
    from tabrl.training import remaining_config, scaled_ppo_config

    config = scaled_ppo_config("CartpoleBalance", STEPS)
    assert (config.rounds, config.steps_per_round) == (4, 640)
    left = remaining_config(config, 640)
    assert (left.rounds, left.steps_per_round, left.num_timesteps) == (3, 640, 1920)
    assert remaining_config(config, 2560).num_timesteps == 0
    with pytest.raises(ValueError, match="whole number"):
        remaining_config(config, 100)


@pytest.mark.slow
def test_a_snapshot_resumes_where_it_stopped(tmp_path, monkeypatch):
    from tabrl.rewards import propose
    from tabrl.training import load_params, load_policy, read_checkpoint_config, train_approach

    spec = propose("CartpoleBalance", PROMPT).approaches[0].reward
    cache, snapshots, kept = tmp_path / "cache", tmp_path / "snapshots", {}

    def keep(env_steps, path):  # what a caller does with each (Tune: report it as a checkpoint)
        assert path == snapshots / f"step-{env_steps}" and (path / "params.msgpack").is_file()
        kept[env_steps] = shutil.copytree(path, tmp_path / "kept" / path.name)

    full = train_approach("CartpoleBalance", spec, num_steps=STEPS, out_dir=tmp_path / "full", compile_cache=cache,
                          snapshot=keep, snapshot_dir=snapshots, snapshot_every_s=0.0)
    assert full.env_steps == 2560 and [p.env_steps for p in full.history] == [640, 1280, 1920, 2560]
    assert sorted(kept) == [640, 1280, 1920]  # after every epoch but the last
    assert [p.name for p in snapshots.iterdir()] == ["step-1920"]  # only the newest stays
    first = read_checkpoint_config(kept[640])
    assert first["env_steps"] == 640 and len(first["history"]) == 1 and first["run"]["snapshot"]

    # A new process would resume from the first snapshot; base_checkpoint loses to it.
    reports = []
    resumed = train_approach("CartpoleBalance", spec, num_steps=STEPS, out_dir=tmp_path / "resumed",
                             compile_cache=cache, resume_from=kept[640], base_checkpoint=tmp_path / "nowhere",
                             progress=reports.append)
    assert [p.env_steps for p in reports] == [1280, 1920, 2560]  # only the epochs left, counted on
    assert [p.env_steps for p in resumed.history] == [640, 1280, 1920, 2560]
    assert resumed.history[0] == full.history[0]
    assert resumed.history[1].elapsed_seconds > resumed.history[0].elapsed_seconds
    rewards = [p.episode_reward for p in reports if p.episode_reward is not None]  # episodes last 100 steps
    assert resumed.env_steps == 2560 and rewards and all(np.isfinite(rewards))
    # The same training program: named the same, loaded ready-made, nothing compiled.
    assert resumed.program_key == full.program_key
    assert resumed.executables_loaded >= 2 and resumed.executables_compiled == 0

    # The final checkpoint describes itself: its networks load without the environment.
    import tabrl.training.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "policy_env", lambda *a, **k: pytest.fail("loaded the environment"))
    meta = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert meta["env_steps"] == 2560 and meta["run"]["resumed_at_env_steps"] == 640
    assert meta["networks"]["observation_size"] == 7 and meta["networks"]["action_size"] == 1
    policy, _ = load_policy(resumed.checkpoint)
    import jax

    action = policy(np.zeros(7, np.float32), jax.random.PRNGKey(0))
    assert action.shape == (1,) and np.all(np.isfinite(action))
    assert len(load_params(kept[1280])) == 3
