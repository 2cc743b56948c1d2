"""Sample states from the real environment, as feature batches, for validation.

A spec is checked on features extracted from a few real transitions: the
environment is reset with several keys and stepped with random actions. That
takes one jit compile of the environment (about 15-25 s for Go1 on two CPU
cores, a few seconds for the dm_control models), so the batch is cached in
the process and on disk (`tabrl.rewards.cache`), keyed by the feature-set
version, the Playground version and the model.
"""

from __future__ import annotations

import functools

import numpy as np

from tabrl.rewards.cache import find, versioned_name, write
from tabrl.rewards.features import CLOCK_FEATURES, FEATURES_VERSION, feature_catalog

SAMPLE_ENVS = 8
SAMPLE_STEPS = 6
# Sampling runs a handful of steps once, so compile fast rather than run fast.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def samples_name(model_id: str) -> str:
    return versioned_name("samples", model_id, ".npz", FEATURES_VERSION, SAMPLE_ENVS, SAMPLE_STEPS)


def samples_cached(model_id: str) -> bool:
    return find(samples_name(model_id)) is not None


def rollout_features(env, n_envs: int = SAMPLE_ENVS, n_steps: int = SAMPLE_STEPS, seed: int = 0) -> dict[str, np.ndarray]:
    """Features of `n_envs * n_steps` transitions with uniform random actions in [-1, 1]."""
    import jax
    import jax.numpy as jnp

    from tabrl.rewards.features import make_extractor

    extractor = make_extractor(env)
    action_size = int(env.action_size)

    def rollout(key):
        reset_key, action_key = jax.random.split(key)
        states = jax.vmap(env.reset)(jax.random.split(reset_key, n_envs))
        tracked = jax.vmap(lambda _: extractor.tracked_init())(jnp.arange(n_envs))

        def body(carry, k):
            states, tracked = carry
            actions = jax.random.uniform(k, (n_envs, action_size), minval=-1.0, maxval=1.0)
            next_states = jax.vmap(env.step)(states, actions)
            features, tracked = jax.vmap(extractor.extract)(tracked, actions, next_states)
            return (next_states, tracked), features

        _, features = jax.lax.scan(body, (states, tracked), jax.random.split(action_key, n_steps))
        return features

    key = jax.random.PRNGKey(seed)
    compiled = jax.jit(rollout).lower(key).compile(compiler_options=_FAST_COMPILE)
    features = jax.device_get(compiled(key))
    return {name: np.asarray(value).reshape((n_envs * n_steps,) + np.shape(value)[2:]) for name, value in features.items()}


@functools.cache
def sample_features(model_id: str) -> dict[str, np.ndarray]:
    """A batch of features from real transitions of `model_id` (leading axis: samples)."""
    expected = {f.name: f.size for f in feature_catalog(model_id) if f.name not in CLOCK_FEATURES}
    path = find(samples_name(model_id))
    if path is not None:
        try:
            with np.load(path) as stored:
                features = {name: stored[name] for name in stored.files}
            if _matches(features, expected):
                return features
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    from tabrl.playground import load_env

    features = rollout_features(load_env(model_id))
    if not _matches(features, expected):
        raise RuntimeError(f"{model_id}: extracted features do not match the feature catalog")
    write(samples_name(model_id), lambda tmp: np.savez(tmp, **features))
    return features


def _matches(features: dict[str, np.ndarray], expected: dict[str, int]) -> bool:
    if set(features) != set(expected):
        return False
    return all(int(np.prod(features[n].shape[1:], dtype=int)) == size for n, size in expected.items())
