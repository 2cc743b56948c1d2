"""Every knob of one PPO run, and how a step budget becomes them.

The PPO hyperparameters start from Playground's per-environment recipe
(`mujoco_playground.config`) and are scaled to the step budget: Playground's
recipes use thousands of parallel environments and tens of millions of steps,
which on a 2-core CPU would not finish one PPO iteration in a small budget. The
scaled config keeps the recipe's learning rate, discounting, entropy cost and
networks, and picks `num_envs`, `unroll_length` and minibatches so that the
budget gives at least `MIN_ITERATIONS` PPO iterations.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

MIN_STEPS = 1_000
MAX_STEPS = 1_000_000_000
MIN_ITERATIONS = 8


class StepsError(ValueError):
    """A step budget outside what TabRL can train."""


class NetworkConfig(BaseModel):
    policy_hidden_layer_sizes: list[int]
    value_hidden_layer_sizes: list[int]
    policy_obs_key: str = "state"
    value_obs_key: str = "state"


class PPOConfig(BaseModel):
    """Every knob of one Brax PPO run (the keyword arguments of `ppo.train`)."""

    num_timesteps: int
    num_envs: int
    batch_size: int
    num_minibatches: int
    unroll_length: int
    num_updates_per_batch: int
    num_evals: int
    episode_length: int
    learning_rate: float
    entropy_cost: float
    discounting: float
    reward_scaling: float
    normalize_observations: bool = True
    max_grad_norm: float | None = None
    action_repeat: int = 1
    num_resets_per_eval: int = 0
    network: NetworkConfig

    @property
    def steps_per_iteration(self) -> int:
        return self.batch_size * self.num_minibatches * self.unroll_length * self.action_repeat

    @property
    def rounds(self) -> int:
        """How many times Brax reports (and calls back) after its initial state."""
        return max(self.num_evals - 1, 1)

    @property
    def steps_per_round(self) -> int:
        """The environment steps Brax trains between two reports (its epoch length, as
        `ppo.train` computes it, times `num_resets_per_eval` epochs)."""
        resets = max(self.num_resets_per_eval, 1)
        per_epoch = math.ceil(self.num_timesteps / (self.rounds * self.steps_per_iteration * resets))
        return per_epoch * self.steps_per_iteration * resets


def remaining_config(config: PPOConfig, done: int) -> PPOConfig:
    """`config` for the rounds left after `done` steps (a multiple of `steps_per_round`).

    Only `num_timesteps` and `num_evals` change, so each epoch is as long as before:
    the training program is the same one (same HLO), and `program_digest` of the
    full config still names it."""
    per_round = config.steps_per_round
    if done % per_round:
        raise ValueError(f"{done:,} steps is not a whole number of rounds of {per_round:,}")
    left = config.rounds - done // per_round
    return config.model_copy(update={"num_timesteps": max(left, 0) * per_round, "num_evals": left + 1})


def check_num_steps(num_steps: int) -> int:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool):
        raise StepsError(f"steps must be a whole number, not {num_steps!r}")
    if num_steps < MIN_STEPS:
        raise StepsError(f"steps must be at least {MIN_STEPS:,} (got {num_steps:,})")
    if num_steps > MAX_STEPS:
        raise StepsError(f"steps must be at most {MAX_STEPS:,} (got {num_steps:,})")
    return num_steps


def playground_recipe(model_id: str) -> dict[str, Any]:
    """Playground's own PPO hyperparameters for this model, as a plain dict."""
    from mujoco_playground.config import dm_control_suite_params, locomotion_params, manipulation_params

    from tabrl.playground import family_by_model

    module = {
        "dm_control_suite": dm_control_suite_params,
        "locomotion": locomotion_params,
        "manipulation": manipulation_params,
    }[family_by_model()[model_id]]
    try:
        recipe = module.brax_ppo_config(model_id).to_dict()
    except Exception:  # a model without a recipe gets the control-suite defaults
        recipe = dm_control_suite_params.brax_ppo_config("CartpoleBalance").to_dict()
        recipe.pop("network_factory", None)
    return recipe


def _network_config(recipe: dict[str, Any]) -> NetworkConfig:
    net = recipe.get("network_factory", {}) or {}
    return NetworkConfig(
        policy_hidden_layer_sizes=list(net.get("policy_hidden_layer_sizes", (32, 32, 32, 32))),
        value_hidden_layer_sizes=list(net.get("value_hidden_layer_sizes", (256,) * 5)),
        policy_obs_key=net.get("policy_obs_key", "state"),
        value_obs_key=net.get("value_obs_key", "state"),
    )


def recipe_ppo_config(model_id: str, num_steps: int | None = None) -> PPOConfig:
    """Playground's recipe as it is (for base policies on a GPU): its env count,
    minibatches, updates, unroll, evaluations and resets; `num_steps` replaces
    its `num_timesteps` when given. `scaled_ppo_config` is for small budgets."""
    recipe = playground_recipe(model_id)
    fields = set(PPOConfig.model_fields) - {"network", "num_timesteps"}
    return PPOConfig(
        num_timesteps=check_num_steps(num_steps if num_steps is not None else int(recipe["num_timesteps"])),
        network=_network_config(recipe),
        **{k: recipe[k] for k in fields if recipe.get(k) is not None},
    )


def scaled_ppo_config(model_id: str, num_steps: int, accelerator: bool = False) -> PPOConfig:
    """Playground's recipe scaled to `num_steps` (see the module docstring)."""
    check_num_steps(num_steps)
    recipe = playground_recipe(model_id)
    unroll = min(int(recipe["unroll_length"]), 20)
    minibatches = 4
    # The largest power-of-two env count (up to the recipe's, and 256 on a CPU)
    # that still leaves MIN_ITERATIONS iterations in the budget.
    cap = int(recipe["num_envs"]) if accelerator else min(int(recipe["num_envs"]), 256)
    num_envs = 8
    while num_envs * 2 <= cap and num_steps / (num_envs * 2 * unroll * minibatches) >= MIN_ITERATIONS:
        num_envs *= 2
    steps_per_iteration = num_envs * minibatches * unroll
    iterations = math.ceil(num_steps / steps_per_iteration)
    # Brax trains in epochs of equal length, reporting after each: the most
    # epochs (up to 10) that divide the iterations, so small budgets are not
    # overshot; large ones round up to 10 epochs (under 10% more steps).
    if iterations >= 100:
        iterations = math.ceil(iterations / 10) * 10
    epochs = max(d for d in range(1, min(iterations, 10) + 1) if iterations % d == 0)
    # Episodes short enough that several end within the budget, so progress has
    # returns to report; never longer than the recipe's.
    steps_per_env = num_steps / num_envs
    episode_length = int(min(recipe["episode_length"], max(100, steps_per_env // 3)))
    return PPOConfig(
        num_timesteps=iterations * steps_per_iteration,
        num_envs=num_envs,
        batch_size=num_envs,
        num_minibatches=minibatches,
        unroll_length=unroll,
        num_updates_per_batch=min(int(recipe["num_updates_per_batch"]), 4),
        num_evals=epochs + 1,
        episode_length=episode_length,
        learning_rate=float(recipe["learning_rate"]),
        entropy_cost=float(recipe["entropy_cost"]),
        discounting=float(recipe["discounting"]),
        reward_scaling=float(recipe["reward_scaling"]),
        normalize_observations=bool(recipe.get("normalize_observations", True)),
        max_grad_norm=recipe.get("max_grad_norm"),
        action_repeat=int(recipe.get("action_repeat", 1)),
        network=_network_config(recipe),
    )
