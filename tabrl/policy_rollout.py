"""Video rollouts of several policies at once: one compiled program per model for all of them.

The policies' parameters and each approach's controls (its held command and clock,
`tabrl.controls`) are arguments of the program, not constants baked into it, and
the policies run side by side (`jax.vmap` over stacked parameters) from one reset
key. So a job's three approaches (and their references) cost one compile rather
than three, a later job on the same model reuses the program (in the same process,
and through JAX's persistent cache in the next), and the first frames are identical by construction: the reset does not
depend on the policy.

A row may ask for zero actions instead of its policy's (`PolicyRow.zero_action`):
the "doing nothing" reference of a model without a base policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

STATE_KEYS = ("qpos", "qvel", "mocap_pos", "mocap_quat")


@dataclass
class PolicyRow:
    """One policy to roll out: its (normaliser, policy) parameters, the PPO config of its
    networks, and the controls (`tabrl.controls.controls_of`) it acts under."""

    params: tuple
    ppo: dict
    controls: dict
    zero_action: bool = False
    meta: dict = field(default_factory=dict)


def checkpoint_row(checkpoint: Path, controls: dict | None = None, zero_action: bool = False) -> PolicyRow:
    """A row for a checkpoint, under its own approach's controls unless `controls` is given."""
    from tabrl.controls import controls_of
    from tabrl.rewards.spec import RewardSpec
    from tabrl.training import read_checkpoint_config

    meta = read_checkpoint_config(Path(checkpoint))
    spec = RewardSpec.model_validate(meta["reward"]) if meta.get("reward") else None
    return PolicyRow(params=_load_params(Path(checkpoint), meta), ppo=meta["ppo"],
                     controls=controls if controls is not None else controls_of(spec),
                     zero_action=zero_action, meta=meta)


def fresh_row(model_id: str, ppo: dict) -> PolicyRow:
    """A row of an untrained network of the PPO config `ppo` (a dict), acting zero: it has the
    shape a checkpoint trained with that config has, so it runs in the same program."""
    from tabrl.controls import controls_of

    return PolicyRow(params=tuple(_template(model_id, _network_key(ppo))[:2]), ppo=ppo, controls=controls_of(None),
                     zero_action=True, meta={"model_id": model_id})


def _load_params(checkpoint: Path, meta: dict) -> tuple:
    """(normaliser, policy) parameters, read by `tabrl.training.load_params` into a template
    made once per model and network shape."""
    from tabrl.training import load_params

    return tuple(load_params(checkpoint, _template(meta["model_id"], _network_key(meta["ppo"])))[:2])


def _config(network_key: str):
    from tabrl.training import NetworkConfig, PPOConfig

    network = json.loads(network_key)
    # Only the networks' shape matters here; the training numbers are not needed.
    return PPOConfig.model_construct(network=NetworkConfig.model_validate(network["network"]),
                                     normalize_observations=network["normalize"])


@lru_cache(maxsize=8)
def _networks(model_id: str, network_key: str):
    """Brax's networks and a parameter template, of the model's sizes (its environment's
    observation size is read without a trace: `tabrl.reset_shapes`)."""
    from tabrl.training import checkpoint_networks

    return checkpoint_networks(_config(network_key), _env(model_id))


def _template(model_id: str, network_key: str):
    return _networks(model_id, network_key)[1]


def frame_steps(seconds: float, fps: int, dt: float) -> tuple[int, np.ndarray]:
    """(environment steps to run, the step whose state each video frame shows): frame k
    is the state at time k / fps."""
    n_frames = int(round(seconds * fps))
    n_steps = int(np.ceil(seconds / dt))
    picks = np.minimum(np.round(np.arange(n_frames) / fps / dt).astype(int), n_steps - 1)
    return n_steps, picks


def _network_key(ppo: dict) -> str:
    return json.dumps({"network": ppo["network"], "normalize": ppo.get("normalize_observations", True)},
                      sort_keys=True)


@lru_cache(maxsize=4)
def _env(model_id: str):
    """The policy environment (`tabrl.training.policy_env`) under a placeholder command;
    each row's controls replace it inside the program."""
    from tabrl.training import policy_env

    return policy_env(model_id)


@lru_cache(maxsize=8)
def _program(model_id: str, network_key: str, n_steps: int, picks: tuple[int, ...]):
    """The jitted batched rollout for a model and a network shape (kept for the process's life)."""
    import copy

    import jax
    import jax.numpy as jnp
    from brax.training.agents.ppo import networks as ppo_networks

    from tabrl.settings import compile_cache_dir
    from tabrl.training import enable_compilation_cache

    enable_compilation_cache(compile_cache_dir())  # a later process loads the program instead
    env = _env(model_id)
    networks, _ = _networks(model_id, network_key)
    make_policy = ppo_networks.make_inference_fn(networks)
    frames = jnp.asarray(picks)

    def one(key, params, controls, zero):
        row_env = copy.copy(env)
        row_env.controls = controls  # traced: the reset's observation shows this row's command
        policy = make_policy(params, deterministic=True)
        reset_key, act_key = jax.random.split(key)
        state = row_env.reset(reset_key)

        def step(carry, _):
            state, key = carry
            key, sub = jax.random.split(key)
            action, _ = policy(state.obs, sub)
            action = jnp.where(zero, jnp.zeros_like(action), action)
            d = state.data
            record = (d.qpos, d.qvel, d.mocap_pos, d.mocap_quat)
            return (row_env.step(state, action), key), record

        _, records = jax.lax.scan(step, (state, act_key), None, length=n_steps)
        return tuple(r[frames] for r in records)

    # A new process (a `tabrl train` job, the renderer's first job) loads the program
    # instead of tracing the MJX step (5.6 s for the Go1 on 2 cores) and lowering it.
    # Keyed on Playground's environment, not TabRL's wrapper: the wrapper's attributes (the
    # observation size, once read) differ between processes that made the same program.
    from tabrl.training.executables import program_store, stored_jit

    what = json.dumps(["policy_rollout", model_id, network_key, n_steps, list(picks)])
    with program_store(compile_cache_dir(), what, env.unwrapped):
        return stored_jit(jax.vmap(one, in_axes=(None, 0, 0, 0)))


def _stack(trees: list) -> Any:
    import jax

    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def rollout_rows(model_id: str, rows: list[PolicyRow], *, seconds: float, fps: int,
                 seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Roll every row out for `seconds` from the reset of `seed`; per row the states at each
    video frame (qpos, qvel, mocap_pos, mocap_quat, each (frames, ...)), as
    `tabrl.rendering.rollout_states` records them. Rows with the same network shape run in
    one program call."""
    import jax

    dt = _env(model_id).dt
    n_steps, picks = frame_steps(seconds, fps, dt)
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(_network_key(row.ppo), []).append(i)
    out: list[dict[str, np.ndarray] | None] = [None] * len(rows)
    for key, members in groups.items():
        run = _program(model_id, key, n_steps, tuple(int(p) for p in picks))
        batch = [rows[i] for i in members]
        records = run(jax.random.PRNGKey(seed), _stack([r.params for r in batch]),
                      _stack([r.controls for r in batch]), np.array([r.zero_action for r in batch]))
        records = [np.asarray(r) for r in records]
        for j, i in enumerate(members):
            out[i] = {name: records[k][j] for k, name in enumerate(STATE_KEYS)}
    return out  # type: ignore[return-value]


def mj_model(model_id: str):
    """The C MuJoCo model the rollouts' states belong to."""
    return _env(model_id).mj_model


__all__ = ["PolicyRow", "checkpoint_row", "frame_steps", "fresh_row", "mj_model", "rollout_rows"]
