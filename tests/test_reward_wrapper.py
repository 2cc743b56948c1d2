"""A Playground environment trained on a spec: the reward is the spec's, under
jit and Brax's training wrappers, and the numbers can be swapped without a
recompile."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tabrl.playground import load_env
from tabrl.rewards import propose
from tabrl.rewards.wrapper import SpecRewardEnv

# Compiling Go1 on two CPU cores takes tens of seconds at XLA's default level;
# these tests check behaviour, not speed.
FAST = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
N_ENVS = 4


def _brax_rollout(env: SpecRewardEnv, n_steps: int = 2):
    """Jitted reset and `n_steps` random steps of a batch, through Brax's wrappers."""
    from mujoco_playground import wrapper

    brax_env = wrapper.wrap_for_brax_training(env, episode_length=50, action_repeat=1)

    def run(key):
        first = brax_env.reset(jax.random.split(key, N_ENVS))

        def body(state, k):
            action = jax.random.uniform(k, (N_ENVS, env.action_size), minval=-1.0, maxval=1.0)
            state = brax_env.step(state, action)
            return state, (state.reward, state.done)

        last, (rewards, dones) = jax.lax.scan(body, first, jax.random.split(key, n_steps))
        return first, last, rewards, dones

    key = jax.random.PRNGKey(0)
    return jax.jit(run).lower(key).compile(compiler_options=FAST)(key)


@pytest.fixture(scope="module")
def go1_rollout():
    proposal = propose("Go1JoystickFlatTerrain", "Keep shaking your hips aloha dude!")
    env = SpecRewardEnv(load_env("Go1JoystickFlatTerrain"), proposal.approaches[0].reward)
    return env, _brax_rollout(env)


def test_go1_batch_under_jit_and_brax_wrappers_gives_finite_spec_rewards(go1_rollout):
    env, (first, last, rewards, dones) = go1_rollout
    assert rewards.shape == (2, N_ENVS) and np.all(np.isfinite(rewards))
    names = env.compiled.term_names
    for state in (first, last):
        for name in names:
            assert state.metrics[f"reward/{name}"].shape == (N_ENVS,)
        assert {k for k in state.metrics if k.startswith("reward/")} == {f"reward/{n}" for n in names}
    # The reward is the spec's: the sum of its terms, not the joystick task's.
    total = sum(np.asarray(last.metrics[f"reward/{n}"]) for n in names)
    np.testing.assert_allclose(np.asarray(last.reward), total, rtol=1e-5, atol=1e-5)
    assert "env_reward/tracking_lin_vel" in last.metrics  # the env's own terms, kept aside
    assert np.any(np.asarray(last.metrics["reward/hip_sway"]) != 0)


def test_reset_and_step_states_have_the_same_structure(go1_rollout):
    _, (first, last, _, _) = go1_rollout
    assert jax.tree_util.tree_structure(first) == jax.tree_util.tree_structure(last)


@pytest.fixture(scope="module")
def cartpole():
    """One jitted program: the wrapped and the plain environment from the same key and
    actions, with the spec's params as an argument."""
    raw = load_env("CartpoleBalance")
    approach = propose("CartpoleBalance", "Keep shaking your hips aloha dude!").approaches[0]
    env = SpecRewardEnv(raw, approach.reward)
    actions = jax.random.uniform(jax.random.PRNGKey(1), (5, raw.action_size), minval=-1, maxval=1)
    traces = []

    def both(key, params):
        traces.append(1)
        wrapped = jax.lax.scan(lambda s, a: (env.step_with_params(s, a, params), None), env.reset(key), actions)[0]
        plain = jax.lax.scan(lambda s, a: (raw.step(s, a), None), raw.reset(key), actions)[0]
        return wrapped, plain

    return env, jax.jit(both, compiler_options=FAST), traces


def test_cartpole_physics_and_termination_are_the_environments(cartpole):
    env, both, _ = cartpole
    wrapped, plain = both(jax.random.PRNGKey(3), env.params)
    np.testing.assert_allclose(wrapped.data.qpos, plain.data.qpos, rtol=1e-6)
    np.testing.assert_allclose(wrapped.obs, plain.obs, rtol=1e-6)
    assert float(wrapped.done) == float(plain.done)
    assert float(wrapped.reward) != pytest.approx(float(plain.reward))
    assert np.isfinite(float(wrapped.reward))
    terms = sum(float(wrapped.metrics[f"reward/{n}"]) for n in env.compiled.term_names)
    assert float(wrapped.reward) == pytest.approx(terms, rel=1e-5)


def test_params_are_inputs_that_swap_without_recompiling(cartpole):
    env, both, traces = cartpole
    changed = jax.tree_util.tree_map(lambda x: x, env.params)
    changed["slots"] = {**changed["slots"], "weight": changed["slots"]["weight"] * 3.0}
    other = env.with_params(changed)
    assert other.compiled is env.compiled and other.params is changed and other.env is env.env

    key = jax.random.PRNGKey(3)
    base, _ = both(key, env.params)
    tripled, _ = both(key, changed)
    assert len(traces) == 1, "new numbers recompiled the program"
    np.testing.assert_allclose(float(tripled.reward), 3 * float(base.reward), rtol=1e-5)
