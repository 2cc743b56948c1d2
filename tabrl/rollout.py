"""Batched rollouts of a policy, its parameters and the approach's numbers as arguments.

One compiled program per (environment, batch shape) serves every policy and
every spec of a reward program: the policy's parameters and the numbers kept in
`state.info` (the reward's and the controls') are arguments, not constants, so
JAX's persistent cache hands a later process the same program.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _run(env, networks, num_envs: int, steps: int, deterministic: bool, jit):
    import jax
    import jax.numpy as jnp
    from brax.training.agents.ppo import networks as ppo_networks

    make_policy = ppo_networks.make_inference_fn(networks)

    def run(key, policy_params, info: dict):
        reset_key, act_key = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))
        state = state.replace(info={**state.info, **{k: jax.tree_util.tree_map(
            lambda v: jnp.broadcast_to(v, (num_envs, *jnp.shape(v))), v) for k, v in info.items()}})
        policy = make_policy(policy_params, deterministic=deterministic)

        def step(carry, _):
            state, key = carry
            key, sub = jax.random.split(key)
            action, _ = policy(state.obs, sub)
            next_state = jax.vmap(env.step)(state, action)
            record = {"obs": state.obs, "reward": next_state.reward, "done": next_state.done,
                      "qpos": next_state.data.qpos, "qvel": next_state.data.qvel}
            return (next_state, key), record

        (final, _), records = jax.lax.scan(step, (state, act_key), None, length=steps)
        records["final_obs"] = final.obs
        return records

    return (jit or jax.jit)(run)


_RUNS: dict[tuple, tuple] = {}
_MAX_RUNS = 8


def _cached_run(env, networks, num_envs: int, steps: int, deterministic: bool, jit=None):
    """One jitted rollout per (environment, networks, shape): a second call, with other
    parameters or numbers, runs the program already compiled. Keyed by identity (Brax's
    networks are not hashable); the entry keeps its env and networks alive."""
    key = (id(env), id(networks), num_envs, steps, deterministic, id(jit))
    if key not in _RUNS:
        while len(_RUNS) >= _MAX_RUNS:
            _RUNS.pop(next(iter(_RUNS)))
        _RUNS[key] = (env, networks, _run(env, networks, num_envs, steps, deterministic, jit))
    return _RUNS[key][2]


def collect(env, networks, params, *, num_envs: int, steps: int, seed: int = 0,
            deterministic: bool = False, info: dict[str, Any] | None = None, jit=None) -> dict[str, Any]:
    """Roll `params` = (normaliser, policy, ...) out on `num_envs` environments for `steps` steps.

    `info` entries replace the reset state's (`tabrl.controls.CONTROLS_KEY`,
    `tabrl.rewards.wrapper.PARAMS_KEY`: the approach's numbers). Returns numpy
    arrays: `obs` (steps, envs, ...; a dict for dict observations) seen before each
    step, `reward`, `done` (steps, envs) and `qpos`, `qvel` (steps, envs, n) after it,
    `final_obs` (envs, ...).
    Steps after an environment's first `done` are not meaningful (no auto-reset).
    `jit` replaces `jax.jit` (`tabrl.training.executables.stored_jit`: a trial loads the
    program instead of tracing it).
    """
    import jax

    run = _cached_run(env, networks, num_envs, steps, deterministic, jit)
    records = run(jax.random.PRNGKey(seed), tuple(params[:2]), dict(info or {}))
    return jax.tree_util.tree_map(np.asarray, records)
