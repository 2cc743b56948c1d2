"""Training one reward approach with Brax PPO on a Playground environment.

The PPO hyperparameters start from Playground's per-environment recipe
(`mujoco_playground.config`) and are scaled to the step budget: Playground's
recipes use thousands of parallel environments and tens of millions of steps,
which on a 2-core CPU would not finish one PPO iteration in a small budget. The
scaled config keeps the recipe's learning rate, discounting, entropy cost and
networks, and picks `num_envs`, `unroll_length` and minibatches so that the
budget gives at least `MIN_ITERATIONS` PPO iterations.

Progress: Brax's own evaluator rolls out full episodes on separate environments,
which would cost more than a small training budget; TabRL runs with
`run_evals=False` and reports the training episodes' metrics instead (Brax's
`log_training_metrics`), once per epoch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MIN_STEPS = 1_000
MAX_STEPS = 1_000_000_000
MIN_ITERATIONS = 8
CHECKPOINT_FORMAT = 1


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
    network: NetworkConfig

    @property
    def steps_per_iteration(self) -> int:
        return self.batch_size * self.num_minibatches * self.unroll_length * self.action_repeat


class Progress(BaseModel):
    """One progress report, sent once per PPO epoch."""

    env_steps: int
    num_steps: int
    episode_reward: float | None = None
    """Mean return of the training episodes that ended recently."""
    reward_per_step: float | None = None
    terms: dict[str, float] = Field(default_factory=dict)
    """Each reward term's mean value per step, in the recent episodes."""
    env_steps_per_second: float | None = None
    elapsed_seconds: float


class TrainResult(BaseModel):
    checkpoint: str
    env_steps: int
    final_reward: float | None
    reward_per_step: float | None
    compile_seconds: float
    train_seconds: float
    env_steps_per_second: float | None
    history: list[Progress]


class NonFiniteRewardError(RuntimeError):
    """The reward became NaN or infinite during training."""


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


def scaled_ppo_config(model_id: str, num_steps: int, accelerator: bool = False) -> PPOConfig:
    """Playground's recipe scaled to `num_steps` (see the module docstring)."""
    check_num_steps(num_steps)
    recipe = playground_recipe(model_id)
    net = recipe.get("network_factory", {}) or {}
    policy_sizes = list(net.get("policy_hidden_layer_sizes", (32, 32, 32, 32)))
    value_sizes = list(net.get("value_hidden_layer_sizes", (256,) * 5))
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
        network=NetworkConfig(
            policy_hidden_layer_sizes=policy_sizes,
            value_hidden_layer_sizes=value_sizes,
            policy_obs_key=net.get("policy_obs_key", "state"),
            value_obs_key=net.get("value_obs_key", "state"),
        ),
    )


def enable_compilation_cache(cache_dir: Path) -> None:
    """JAX's persistent compilation cache: a repeated request skips compiling."""
    import jax

    cache_dir.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _network_factory(config: PPOConfig):
    import functools

    from brax.training.agents.ppo import networks as ppo_networks

    return functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(config.network.policy_hidden_layer_sizes),
        value_hidden_layer_sizes=tuple(config.network.value_hidden_layer_sizes),
        policy_obs_key=config.network.policy_obs_key,
        value_obs_key=config.network.value_obs_key,
    )


def _progress_from(
    metrics: dict, env_steps: int, num_steps: int, started: float, term_names: set[str] | None
) -> Progress:
    def number(key: str) -> float | None:
        value = metrics.get(key)
        return None if value is None else float(value)

    length = number("episode/length")
    total = number("episode/sum_reward")
    terms = {}
    for key, value in metrics.items():
        name = key.removeprefix("episode/reward/")
        # The environment's own metrics share the prefix; with a spec, show its terms only.
        if key.startswith("episode/reward/") and length and (term_names is None or name in term_names):
            terms[name] = float(value) / length
    return Progress(
        env_steps=env_steps,
        num_steps=num_steps,
        episode_reward=total,
        reward_per_step=(total / length) if total is not None and length else None,
        terms=terms,
        env_steps_per_second=number("training/sps"),
        elapsed_seconds=time.monotonic() - started,
    )


def _is_finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def train_approach(
    model_id: str,
    spec=None,
    *,
    num_steps: int,
    out_dir: Path,
    progress: Callable[[Progress], None] | None = None,
    base_checkpoint: Path | None = None,
    seed: int = 0,
    accelerator: bool | None = None,
) -> TrainResult:
    """Train one approach with Brax PPO and write its checkpoint to `out_dir`.

    `spec` is a `tabrl.rewards.spec.RewardSpec`; None trains on the
    environment's own reward (the benchmarks' peer). Raises
    `NonFiniteRewardError` as soon as a reported reward is NaN or infinite.
    """
    import jax
    from brax.training.agents.ppo import train as ppo

    from tabrl.playground import load_env

    if accelerator is None:
        accelerator = jax.default_backend() != "cpu"
    config = scaled_ppo_config(model_id, num_steps, accelerator=accelerator)
    env = load_env(model_id)
    if spec is not None:
        from tabrl.rewards.wrapper import SpecRewardEnv

        env = SpecRewardEnv(env, spec)
    from mujoco_playground import wrapper

    term_names = {term.name for term in spec.terms} if spec is not None else None
    restore = load_params(base_checkpoint) if base_checkpoint else None
    started = time.monotonic()
    history: list[Progress] = []
    latest_episode: dict[str, float] = {}

    def on_metrics(step: int, metrics: dict) -> None:
        if "training/sps" not in metrics:  # episode metrics from the training rollouts
            latest_episode.update({k: float(v) for k, v in metrics.items()})
            return
        report = _progress_from({**latest_episode, **metrics}, int(step), num_steps, started, term_names)
        history.append(report)
        if not (_is_finite(report.episode_reward) and all(map(_is_finite, report.terms.values()))):
            raise NonFiniteRewardError(
                f"the reward became non-finite after {report.env_steps:,} steps "
                f"(episode reward {report.episode_reward}, terms {report.terms})"
            )
        if progress is not None:
            progress(report)

    kwargs = config.model_dump(exclude={"network"})
    make_policy, params, _ = ppo.train(
        environment=env,
        wrap_env_fn=wrapper.wrap_for_brax_training,
        network_factory=_network_factory(config),
        progress_fn=on_metrics,
        run_evals=False,
        log_training_metrics=True,
        training_metrics_steps=config.steps_per_iteration,
        restore_params=restore,
        seed=seed,
        **kwargs,
    )
    total_seconds = time.monotonic() - started
    # Compiling happens in the first epochs (Brax compiles its epoch twice); the
    # time beyond what all steps take at the steady pace of the later epochs is
    # reported as compile time.
    paces = sorted(p.env_steps_per_second for p in history[1:] if p.env_steps_per_second)
    sps = paces[len(paces) // 2] if paces else None
    env_steps = history[-1].env_steps if history else 0
    train_seconds = min(total_seconds, env_steps / sps) if sps else total_seconds
    compile_seconds = total_seconds - train_seconds
    checkpoint = save_checkpoint(out_dir, model_id, config, params, spec, history)
    last = history[-1] if history else None
    return TrainResult(
        checkpoint=str(checkpoint),
        env_steps=last.env_steps if last else 0,
        final_reward=last.episode_reward if last else None,
        reward_per_step=last.reward_per_step if last else None,
        compile_seconds=round(compile_seconds, 2),
        train_seconds=round(train_seconds, 2),
        env_steps_per_second=sps,
        history=history,
    )


# --- checkpoints ----------------------------------------------------------------


def save_checkpoint(out_dir: Path, model_id: str, config: PPOConfig, params, spec, history) -> Path:
    """params.msgpack (normalizer, policy, value) and config.json (everything to rebuild it)."""
    from flax import serialization

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "params.msgpack").write_bytes(serialization.msgpack_serialize(_to_state_dict(params)))
    meta = {
        "format": CHECKPOINT_FORMAT,
        "model_id": model_id,
        "ppo": config.model_dump(mode="json"),
        "reward": spec.model_dump(mode="json") if spec is not None else None,
        "history": [p.model_dump(mode="json") for p in history],
    }
    (out_dir / "config.json").write_text(json.dumps(meta, indent=1))
    return out_dir


def _to_state_dict(params):
    from flax import serialization

    return serialization.to_state_dict(params)


def read_checkpoint_config(checkpoint: Path) -> dict:
    path = Path(checkpoint) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{checkpoint} is not a TabRL checkpoint (no config.json)")
    meta = json.loads(path.read_text())
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{checkpoint}: unsupported checkpoint format {meta.get('format')!r}")
    return meta


def _networks_for(meta: dict, env):
    from brax.training.acme import running_statistics
    from brax.training.agents.ppo import networks as ppo_networks

    config = PPOConfig.model_validate(meta["ppo"])
    obs_size = env.observation_size
    preprocess = running_statistics.normalize if config.normalize_observations else (lambda x, y: x)
    networks = _network_factory(config)(
        obs_size, env.action_size, preprocess_observations_fn=preprocess
    )
    return networks, ppo_networks


def load_params(checkpoint: Path):
    """The (normalizer, policy, value) parameters of a checkpoint, as Brax's types."""
    import jax
    from brax.training.acme import running_statistics, specs
    from flax import serialization

    from tabrl.playground import load_env

    meta = read_checkpoint_config(checkpoint)
    env = load_env(meta["model_id"])
    networks, _ = _networks_for(meta, env)
    key_policy, key_value = jax.random.split(jax.random.PRNGKey(0))
    obs_shape = jax.tree_util.tree_map(
        lambda size: specs.Array((size,) if isinstance(size, int) else tuple(size)[-1:], jax.numpy.float32),
        env.observation_size,
    )
    template = (
        running_statistics.init_state(obs_shape),
        networks.policy_network.init(key_policy),
        networks.value_network.init(key_value),
    )
    state = serialization.msgpack_restore((Path(checkpoint) / "params.msgpack").read_bytes())
    return serialization.from_state_dict(template, state)


def load_policy(checkpoint: Path, deterministic: bool = True):
    """A jitted `policy(obs, key) -> action` and the checkpoint's metadata."""
    import jax

    from tabrl.playground import load_env

    meta = read_checkpoint_config(checkpoint)
    env = load_env(meta["model_id"])
    networks, ppo_networks = _networks_for(meta, env)
    params = load_params(checkpoint)
    make_policy = ppo_networks.make_inference_fn(networks)
    policy = make_policy(params[:2], deterministic=deterministic)
    return jax.jit(lambda obs, key: policy(obs, key)[0]), meta
