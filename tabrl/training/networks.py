"""Brax's PPO networks for a `PPOConfig`, from the sizes alone.

A policy needs only its observation and action sizes to be rebuilt, so a
checkpoint that records them (`tabrl.training.checkpoint`) loads without its
environment; `Sizes` stands in for the environment where one is expected.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tabrl.training.config import PPOConfig


class Sizes(NamedTuple):
    """What the networks need of an environment. `observation_size`: an int, or for dict
    observations {key: shape tuple}, as `env.observation_size` gives it."""

    observation_size: Any
    action_size: int


def network_factory(config: PPOConfig):
    """Brax's PPO networks for `config`, each network's `init` one stored program.

    Why: Flax initialises a network eagerly, one small XLA program per layer,
    initializer and shape (34 for CartpoleBalance's two MLPs), and every new
    trial process traces, lowers and compiles or loads each of them; jitted, the
    Flax tracing alone costs as much. From the executable store (`stored_jit`,
    while training) a later trial neither traces nor compiles it."""
    import dataclasses

    from brax.training.agents.ppo import networks as ppo_networks

    from tabrl.training.executables import stored_jit

    def make(*args, **kwargs):
        networks = ppo_networks.make_ppo_networks(
            *args,
            policy_hidden_layer_sizes=tuple(config.network.policy_hidden_layer_sizes),
            value_hidden_layer_sizes=tuple(config.network.value_hidden_layer_sizes),
            policy_obs_key=config.network.policy_obs_key,
            value_obs_key=config.network.value_obs_key,
            **kwargs,
        )
        return networks.replace(**{
            name: dataclasses.replace(network, init=stored_jit(network.init))
            for name in ("policy_network", "value_network")
            for network in [getattr(networks, name)]
        })

    return make


def checkpoint_networks(config: PPOConfig, env, seed: int = 0):
    """Brax's PPO networks for `config` on `env` (an environment, or `Sizes`), and freshly
    initialised (normaliser, policy, value) parameters: the template a checkpoint loads into."""
    import jax
    from brax.training.acme import running_statistics, specs

    preprocess = running_statistics.normalize if config.normalize_observations else (lambda x, y: x)
    networks = network_factory(config)(env.observation_size, env.action_size, preprocess_observations_fn=preprocess)
    key_policy, key_value = jax.random.split(jax.random.PRNGKey(seed))
    # observation_size is an int, or for dict observations {key: shape tuple}:
    # the tuples are leaves here, not pytrees to map into.
    obs_shape = jax.tree_util.tree_map(
        lambda size: specs.Array((size,) if isinstance(size, int) else tuple(size)[-1:], jax.numpy.float32),
        env.observation_size,
        is_leaf=lambda x: isinstance(x, (int, tuple)),
    )
    template = (
        running_statistics.init_state(obs_shape),
        networks.policy_network.init(key_policy),
        networks.value_network.init(key_value),
    )
    return networks, template
