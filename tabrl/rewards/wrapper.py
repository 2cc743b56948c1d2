"""A Playground environment whose reward comes from a reward spec.

`SpecRewardEnv(env, spec)` steps the environment as usual (same physics, same
observation, same termination) and replaces `reward` with the compiled spec's
reward. Each term's value is in `state.metrics["reward/<term name>"]` (also
set, to zero, in `reset`, so the state's pytree structure never changes). The
environment's own reward metrics move from `reward/<name>` to
`env_reward/<name>`, so that `reward/` holds exactly the spec's terms.

The spec's numbers are `self.params`, a pytree of arrays; `with_params`
returns the same environment with other numbers, and `step_with_params` takes
them as an argument, so one jitted program can serve every spec of the same
structure (see `tabrl.rewards.compile`).

`SharedProgramRewardEnv` is the training variant: the numbers travel in the
state (`state.info[PARAMS_KEY]`, set by `reset`) instead of being closed over,
and the terms are reported at canonical positions
(`reward/term_00` ... `reward/term_11`). A jitted program that takes the state
as an argument (Brax's training epoch) is then the same program, down to its
HLO text, for every spec with the same `RewardProgram`, so JAX's persistent
cache serves all of them from one compile. With `placeholder_params=True` the
reset writes zeros of the right shapes instead, so the reset program is shared
too, and the caller puts the real numbers into the reset state
(`fill_params`) before the first step; `tabrl.training` does that.
"""

from __future__ import annotations

from typing import Any

from mujoco_playground import wrapper as _playground_wrapper

from tabrl.rewards.compile import CompiledReward, compile_spec, term_position_metric
from tabrl.rewards.features import make_extractor
from tabrl.rewards.spec import MAX_TERMS, RewardSpec


class SpecRewardEnv(_playground_wrapper.Wrapper):
    def __init__(self, env: Any, spec: RewardSpec | CompiledReward, params: dict | None = None):
        super().__init__(env)
        self.extractor = make_extractor(env)
        self.compiled = spec if isinstance(spec, CompiledReward) else compile_spec(spec, list(self.extractor.catalog))
        self.params = params if params is not None else self.compiled.params

    def with_params(self, params: dict) -> SpecRewardEnv:
        """The same environment and reward structure, with other numbers."""
        clone = object.__new__(SpecRewardEnv)
        clone.env, clone.extractor, clone.compiled = self.env, self.extractor, self.compiled
        clone.params = params
        return clone

    def reset(self, rng):
        import jax.numpy as jnp

        state = self.env.reset(rng)
        info = {**state.info, **self.extractor.tracked_init()}
        terms = {f"reward/{n}": jnp.zeros(()) for n in self.compiled.term_names}
        return state.replace(info=info, metrics=_with_terms(state.metrics, terms))

    def step(self, state, action):
        return self.step_with_params(state, action, self.params)

    def step_with_params(self, state, action, params: dict):
        import jax.numpy as jnp

        # Read what extraction tracks before stepping: Playground environments
        # update `state.info` in place.
        tracked = {key: state.info[key] for key in self.extractor.tracked_keys}
        # The environment sees its own metrics, named as it named them.
        env_state = state.replace(metrics=_env_view(state.metrics, self.compiled.term_names))
        next_state = self.env.step(env_state, action)
        features, new_tracked = self.extractor.extract(tracked, action, next_state)
        reward, terms = self.compiled.fn(params, features)
        info = {**next_state.info, **new_tracked}
        metrics = _with_terms(next_state.metrics, {f"reward/{n}": v for n, v in terms.items()})
        reward = jnp.asarray(reward, dtype=jnp.asarray(next_state.reward).dtype)
        return next_state.replace(reward=reward, info=info, metrics=metrics)


PARAMS_KEY = "tabrl_reward_params"
"""Where `SharedProgramRewardEnv` keeps the spec's numbers in `state.info`."""


class SharedProgramRewardEnv(SpecRewardEnv):
    """`SpecRewardEnv` with the numbers in the state and terms at canonical positions."""

    def __init__(self, env: Any, spec: RewardSpec | CompiledReward, placeholder_params: bool = False):
        super().__init__(env, spec)
        self.program = self.compiled.program
        self.params = self.compiled.program_params
        self.placeholder_params = placeholder_params
        self.position_names = tuple(term_position_metric(i) for i in range(MAX_TERMS))

    @property
    def metric_names(self) -> dict[str, str]:
        """Canonical metric name -> the spec's term name, for renaming on the host."""
        return {f"reward/{self.position_names[i]}": name for i, name in enumerate(self.compiled.term_names)}

    def reset(self, rng):
        import jax.numpy as jnp

        import jax

        state = self.env.reset(rng)
        params = jax.tree_util.tree_map(jnp.zeros_like, self.params) if self.placeholder_params else self.params
        info = {**state.info, **self.extractor.tracked_init(), PARAMS_KEY: params}
        terms = {f"reward/{n}": jnp.zeros(()) for n in self.position_names}
        return state.replace(info=info, metrics=_with_terms(state.metrics, terms))

    def step(self, state, action):
        import jax.numpy as jnp

        params = state.info[PARAMS_KEY]
        tracked = {key: state.info[key] for key in self.extractor.tracked_keys}
        env_info = {k: v for k, v in state.info.items() if k != PARAMS_KEY}
        env_state = state.replace(info=env_info, metrics=_env_view(state.metrics, self.position_names))
        next_state = self.env.step(env_state, action)
        features, new_tracked = self.extractor.extract(tracked, action, next_state)
        reward, terms = self.program.fn(params, features)
        info = {**next_state.info, **new_tracked, PARAMS_KEY: params}
        named = {f"reward/{n}": terms[i] for i, n in enumerate(self.position_names)}
        metrics = _with_terms(next_state.metrics, named)
        reward = jnp.asarray(reward, dtype=jnp.asarray(next_state.reward).dtype)
        return next_state.replace(reward=reward, info=info, metrics=metrics)


def fill_params(state, params: dict):
    """Put `params` into a (batched, possibly sharded) reset state's placeholder, in place
    (`tabrl.controls.fill_info`)."""
    from tabrl.controls import fill_info

    fill_info(state, PARAMS_KEY, params)


def _env_view(metrics: dict, term_names) -> dict:
    """Undo `_with_terms`: drop the spec's terms, give the environment's back their names."""
    ours = {f"reward/{name}" for name in term_names}
    return {
        (f"reward/{key[len('env_reward/'):]}" if key.startswith("env_reward/") else key): value
        for key, value in metrics.items()
        if key not in ours
    }


def _with_terms(env_metrics: dict, terms: dict) -> dict:
    metrics = {
        (f"env_reward/{key[len('reward/'):]}" if key.startswith("reward/") else key): value
        for key, value in env_metrics.items()
    }
    metrics.update(terms)
    return metrics


def with_spec_reward(env: Any, spec: RewardSpec | CompiledReward) -> SpecRewardEnv:
    return SpecRewardEnv(env, spec)
