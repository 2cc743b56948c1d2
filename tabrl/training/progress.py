"""What a training run reports: one `Progress` per epoch, a `TrainResult` at the end.

Brax's own evaluator rolls out full episodes on separate environments, which
would cost more than a small training budget; TabRL runs with `run_evals=False`
and reports the training episodes instead, once per epoch. Brax's
`log_training_metrics` would do that with a `jax.debug.callback` in every
training step, which costs a host round trip per step and, worse, makes the
training program impossible to keep in JAX's persistent cache (JAX never writes
programs with host callbacks). Instead `EpisodeStatsWrapper` sums the finished
episodes on the device inside the environment state, and `EpisodeTotals` reads
those sums (a few numbers per environment) once per epoch.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

STATS_KEY = "tabrl_episode_stats"


class NonFiniteRewardError(RuntimeError):
    """The reward became NaN or infinite during training."""


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
    wall_seconds: float | None = None
    """The whole `train_approach` call: loading, compiling, training, saving."""
    critic_seconds: float = 0.0
    """Fitting a base policy's value network before PPO (`tabrl.finetune`); 0 when this run did not."""
    lock_wait_seconds: float = 0.0
    """Time spent waiting for another process to compile the same program."""
    cache_hits: int = 0
    """Programs loaded from JAX's persistent cache during this run."""
    cache_misses: int = 0
    """Programs compiled and written to the persistent cache during this run."""
    program_key: str | None = None
    """A digest of everything the training program depends on (equal keys: one compile)."""
    trace_seconds: float = 0.0
    """JAX tracing (Python) during this run; the persistent cache cannot save it."""
    lower_seconds: float = 0.0
    """Lowering jaxprs to HLO during this run (needed for the cache key too)."""
    xla_seconds: float = 0.0
    """XLA compiling, or loading from the persistent cache, during this run."""
    executables_loaded: int = 0
    """Training programs loaded ready-made from the executable store (no tracing)."""
    executables_compiled: int = 0
    """Training programs traced, compiled and written to the executable store."""


def episode_stats_wrapper(term_metrics: tuple[str, ...]):
    """A `wrap_env_fn` for Brax: Playground's training wrappers, then `EpisodeStatsWrapper`."""
    from mujoco_playground import wrapper

    class EpisodeStatsWrapper(wrapper.Wrapper):
        """Sums of the finished episodes (count, return, length, each term), per environment.

        It sits outside Brax's episode and auto-reset wrappers, so
        `info["episode_done"]` and `info["episode_metrics"]` (the finished
        episode's sums on its last step) are already set when it reads them.
        """

        def reset(self, rng):
            import jax.numpy as jnp

            state = self.env.reset(rng)
            zeros = jnp.zeros(rng.shape[:-1])
            stats = {name: zeros for name in ("count", "sum_reward", "length", *term_metrics)}
            return state.replace(info={**state.info, STATS_KEY: stats})

        def step(self, state, action):
            import jax.numpy as jnp

            stats = state.info[STATS_KEY]
            state = self.env.step(state, action)
            done = state.info["episode_done"] > 0
            episode = state.info["episode_metrics"]
            new = {"count": stats["count"] + done}
            for name in ("sum_reward", "length", *term_metrics):
                new[name] = stats[name] + jnp.where(done, episode[name], 0.0)
            return state.replace(info={**state.info, STATS_KEY: new})

    def wrap(env, **kwargs):
        return EpisodeStatsWrapper(wrapper.wrap_for_brax_training(env, **kwargs))

    return wrap


class EpisodeTotals:
    """Turns the on-device running sums into per-epoch episode metrics on the host."""

    def __init__(self, term_metrics: dict[str, str]):
        self.term_metrics = term_metrics  # on-device metric name -> reported name
        self.previous: dict[str, float] | None = None
        self.latest: dict[str, float] = {}

    def update(self, env_state) -> dict[str, float]:
        """Episode metrics (Brax's `episode/...` names) of the episodes finished since the last call."""
        import jax
        import numpy as np

        if env_state is None:
            return self.latest
        info = env_state.info
        stats, partial = jax.device_get((info[STATS_KEY], info["episode_metrics"]["sum_reward"]))
        totals = {name: float(np.sum(value)) for name, value in stats.items()}
        previous = self.previous or {name: 0.0 for name in totals}
        self.previous = totals
        delta = {name: totals[name] - previous[name] for name in totals}
        if not np.all(np.isfinite(partial)):  # an unfinished episode already went non-finite
            self.latest = {"episode/sum_reward": float("nan"), "episode/length": 1.0}
            return self.latest
        if delta["count"] > 0:
            count = delta["count"]
            self.latest = {"episode/sum_reward": delta["sum_reward"] / count,
                           "episode/length": delta["length"] / count}
            for metric, name in self.term_metrics.items():
                self.latest[f"episode/reward/{name}"] = delta[metric] / count
        return self.latest


def progress_from(metrics: dict, env_steps: int, num_steps: int, elapsed: float,
                  term_names: set[str] | None) -> Progress:
    """One `Progress` from Brax's metrics and `EpisodeTotals`' (`term_names`: the spec's terms)."""
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
        elapsed_seconds=elapsed,
    )


def check_finite(report: Progress) -> None:
    """Raise `NonFiniteRewardError` when the report's return or a term is NaN or infinite."""
    def finite(value: float | None) -> bool:
        return value is None or math.isfinite(value)

    if not (finite(report.episode_reward) and all(map(finite, report.terms.values()))):
        raise NonFiniteRewardError(
            f"the reward became non-finite after {report.env_steps:,} steps "
            f"(episode reward {report.episode_reward}, terms {report.terms})"
        )
