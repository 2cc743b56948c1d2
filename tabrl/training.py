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
`run_evals=False` and reports the training episodes instead, once per epoch.
Brax's `log_training_metrics` would do that with a `jax.debug.callback` in every
training step, which costs a host round trip per step and, worse, makes the
training program impossible to keep in JAX's persistent cache (JAX never writes
programs with host callbacks). Instead `EpisodeStatsWrapper` sums the finished
episodes on the device inside the environment state, and the progress callback
reads those sums (a few numbers per environment) once per epoch.

One compiled program for every approach: the reward's numbers travel in the
environment state (`SharedProgramRewardEnv`), so the training epoch's HLO is the
same for every spec of a family (see `tabrl.rewards.compile`); with
`compile_cache` set, the first process to compile it holds a file lock
(`CompileLock`) until the program is stored, and the others then load it
instead of compiling the same program at the same time: the reset and the
training epoch ready-made from the executable store (`tabrl.executables`,
no tracing), Brax's small set-up programs from JAX's persistent cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MIN_STEPS = 1_000
MAX_STEPS = 1_000_000_000
MIN_ITERATIONS = 8
CHECKPOINT_FORMAT = 2
"""2: policies observe the phase clock (two more inputs, `tabrl.controls`); format 1 cannot be loaded."""


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


CACHE_MAX_BYTES = 4 << 30


def enable_compilation_cache(cache_dir: Path) -> None:
    """JAX's persistent compilation cache: a repeated request skips compiling.

    Every program is cached, however quick to compile: Brax's set-up runs about 40
    small eager programs in each new trial process (optimizer initialisation and
    bookkeeping). Measured on CartpoleBalance on 2 cores, when they were about 90
    (before the networks' init moved to the executable store): XLA time 3.7 s
    compiling them, 0.3 s loading them from the cache."""
    import jax

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    try:  # JAX's size limit (least recently used go first) needs `filelock`
        import filelock  # noqa: F401
    except ImportError:
        return
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)


class CacheCounter:
    """While active: JAX persistent-cache hits and writes, and seconds spent in each
    stage of JAX's compile pipeline (tracing to a jaxpr, lowering to HLO, XLA
    compile or load from the persistent cache), from JAX's monitoring events."""

    _active: list[CacheCounter] = []
    _registered = False
    STAGES = {
        "/jax/core/compile/jaxpr_trace_duration": "trace",
        "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
        "/jax/core/compile/backend_compile_duration": "xla",
    }

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.seconds = {"trace": 0.0, "lower": 0.0, "xla": 0.0}

    @classmethod
    def _on_event(cls, event: str, **_: Any) -> None:
        for counter in cls._active:
            if event == "/jax/compilation_cache/cache_hits":
                counter.hits += 1
            elif event == "/jax/compilation_cache/cache_misses":
                counter.misses += 1

    @classmethod
    def _on_duration(cls, event: str, duration: float, **_: Any) -> None:
        stage = cls.STAGES.get(event)
        if stage:
            for counter in cls._active:
                counter.seconds[stage] += duration

    def __enter__(self) -> CacheCounter:
        import jax

        if not CacheCounter._registered:
            jax.monitoring.register_event_listener(CacheCounter._on_event)
            jax.monitoring.register_event_duration_secs_listener(CacheCounter._on_duration)
            CacheCounter._registered = True
        CacheCounter._active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        CacheCounter._active.remove(self)


class CompileLock:
    """An exclusive file lock per training program in the shared cache folder.

    Why: the trials of a batch start together and, without it, each compiles
    the same program at the same time (three 15-60 s compiles sharing two
    cores). With it, the first trial compiles while the others wait; when the
    first reports its first epoch, the program is in JAX's persistent cache and
    the others load it in a fraction of a second. Compiling once in the driver
    before the trials start would also work, but Brax offers no way to compile
    its training program without running it. The lock is advisory (`flock`),
    so a crashed holder frees it, and it is held at most until the first epoch
    or the end of training.
    """

    def __init__(self, cache_dir: Path, key: str):
        self.path = Path(cache_dir) / "locks" / f"{key}.lock"
        self.done_path = self.path.with_suffix(".done")
        self._file = None
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Wait for whoever compiles this program; return at once when it is already cached."""
        import fcntl

        if self.done_path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+")
        started = time.monotonic()
        fcntl.flock(self._file, fcntl.LOCK_EX)
        self.waited_seconds = time.monotonic() - started
        if self.done_path.exists():  # compiled while we waited: no reason to hold the others
            self.release()

    def release(self, compiled: bool = False) -> None:
        """Let the others go; `compiled`: the program is in the cache now (marks it done)."""
        import fcntl

        if self._file is not None:
            if compiled:
                self.done_path.touch()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def program_digest(model_id: str, config: PPOConfig, reward_program_key: Any) -> str:
    """What the training program depends on: model, PPO config, reward program, versions."""
    import brax
    import jax

    text = json.dumps(
        [model_id, config.model_dump(mode="json"), repr(reward_program_key), jax.__version__,
         brax.__version__, jax.default_backend()],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def replicate_on_brax_mesh() -> Iterator[None]:
    """Make Brax's training epoch compile once instead of twice.

    Brax 0.14.2 places the initial training state with `jax.device_put_replicated`,
    which (under jax 0.9's shard_map-based pmap) shards it over a mesh whose axis
    is named `_device_put_replicated`, while the epoch's outputs live on a mesh
    named after Brax's pmap axis (`i`). The second epoch's arguments thus carry a
    different sharding than the first's, jit's cache misses, and the whole epoch
    is lowered and compiled again (about 15 s on CartpoleBalance on 2 cores).
    Within this context, `jax.device_put_replicated` places arrays on the same
    mesh the epoch's outputs use, so the second call finds the first compile.
    """
    import jax
    import numpy as np
    from brax.training.agents.ppo import train as ppo_train
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    axis = ppo_train._PMAP_AXIS_NAME
    original = jax.device_put_replicated

    def device_put_replicated(x, devices):
        sharding = NamedSharding(Mesh(np.array(devices), (axis,)), PartitionSpec(axis))

        def put(leaf):  # on the host: a jnp broadcast would compile one small program per shape
            leaf = np.asarray(leaf)
            return jax.device_put(np.broadcast_to(leaf[None], (len(devices), *leaf.shape)), sharding)

        return jax.tree_util.tree_map(put, x)

    jax.device_put_replicated = device_put_replicated
    try:
        yield
    finally:
        jax.device_put_replicated = original


STATS_KEY = "tabrl_episode_stats"


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


def _no_eval_env(env):
    """A stand-in for Brax's evaluation environment, which TabRL never runs.

    `ppo.train` builds its `Evaluator` even with `run_evals=False`, and that
    compiles and runs the evaluation environment's reset (an MJX forward pass,
    several seconds of compile on a CPU). This environment resets to a few
    zeros, so that compile costs next to nothing.
    """
    from mujoco_playground._src import mjx_env

    class NoEvalEnv(mjx_env.MjxEnv):
        def __init__(self):  # no model, no config: nothing of MjxEnv's is used
            pass

        def reset(self, rng):
            import jax.numpy as jnp

            # Nothing ever reads this observation; sizing it like the real one would
            # cost a trace of the real reset (MjxEnv.observation_size).
            return mjx_env.State(data=jnp.zeros(()), obs=jnp.zeros(1), reward=jnp.zeros(()),
                                 done=jnp.zeros(()), metrics={}, info={})

        def step(self, state, action):
            return state

        @property
        def observation_size(self):
            return 1

        @property
        def action_size(self):
            return env.action_size

        @property
        def xml_path(self):
            return ""

        @property
        def mj_model(self):
            return None

        @property
        def mjx_model(self):
            return None

    return NoEvalEnv()


def _brax_env_state():
    """The environment state of the running `ppo.train` (its local `env_state`).

    Brax passes only its loss metrics to `progress_fn`; the environment state,
    where `EpisodeStatsWrapper` keeps its sums, is a local of `ppo.train`, read
    here from its frame between two epochs (never while an epoch runs).
    """
    from brax.training.agents.ppo import train as ppo_train

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is ppo_train.train.__code__:
            return frame.f_locals.get("env_state")
        frame = frame.f_back
    return None


class _EpisodeTotals:
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


def _network_factory(config: PPOConfig):
    """Brax's PPO networks for `config`, each network's `init` one stored program.

    Why: Flax initialises a network eagerly, one small XLA program per layer,
    initializer and shape (34 for CartpoleBalance's two MLPs), and every new
    trial process traces, lowers and compiles or loads each of them; jitted, the
    Flax tracing alone costs as much. From the executable store (`stored_jit`,
    while training) a later trial neither traces nor compiles it."""
    import dataclasses

    from brax.training.agents.ppo import networks as ppo_networks

    from tabrl.executables import stored_jit

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


def _warm_up_critic(env, config: PPOConfig, restore, controls: dict, spec, seed: int,
                    compile_cache: Path | None, digest: str):
    """`tabrl.finetune.warm_up_critic` for this run's environment and approach; with a
    compile cache, the first trial compiles its rollout while the others wait for it
    (`CompileLock`), then load it from JAX's persistent cache."""
    from tabrl.controls import CONTROLS_KEY
    from tabrl.finetune import warm_up_critic

    info = {CONTROLS_KEY: controls}
    if spec is not None:
        from tabrl.rewards.wrapper import PARAMS_KEY

        info[PARAMS_KEY] = env.params
    networks, _ = checkpoint_networks(config, env)
    lock = CompileLock(Path(compile_cache), f"{digest}-critic") if compile_cache is not None else None
    started = time.monotonic()
    if lock is not None:
        lock.acquire()
    try:
        restore, report = warm_up_critic(env, networks, restore, discounting=config.discounting,
                                         reward_scaling=config.reward_scaling, info=info, seed=seed)
        if lock is not None:
            lock.release(compiled=True)
    finally:
        if lock is not None:
            lock.release()
    report["seconds"] = round(time.monotonic() - started, 2)
    report["lock_wait_seconds"] = round(lock.waited_seconds, 2) if lock else 0.0
    return restore, report


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
    compile_cache: Path | None = None,
    config: PPOConfig | None = None,
) -> TrainResult:
    """Train one approach with Brax PPO and write its checkpoint to `out_dir`.

    `spec` is a `tabrl.rewards.spec.RewardSpec`; None trains on the
    environment's own reward. `compile_cache` turns on JAX's persistent cache
    in that folder and the `CompileLock` for processes sharing it. `config`
    replaces `scaled_ppo_config(model_id, num_steps)` (`num_steps` is then only
    the progress bar's total). Raises
    `NonFiniteRewardError` as soon as a reported reward is NaN or infinite.
    """
    import jax
    from brax.training.agents.ppo import train as ppo

    from tabrl.controls import ControlledEnv, controls_of, fill_controls
    from tabrl.playground import load_env
    from tabrl.settings import executable_store_enabled

    wall_started, wall_started_at = time.monotonic(), time.time()
    if accelerator is None:
        accelerator = jax.default_backend() != "cpu"
    if config is None:
        config = scaled_ppo_config(model_id, num_steps, accelerator=accelerator)
    base_env = load_env(model_id)
    # The approach's command held fixed and the phase observed (tabrl.controls); a run on the
    # environment's own reward (a base policy) keeps the environment's random commands.
    controls = controls_of(spec)
    env = ControlledEnv(base_env, controls, placeholder=spec is not None, hold_command=spec is not None)
    metric_names: dict[str, str] = {}  # on-device name (without "reward/") -> term name
    reward_key: Any = "environment reward"
    if spec is not None:
        from tabrl.rewards.wrapper import SharedProgramRewardEnv

        env = SharedProgramRewardEnv(env, spec, placeholder_params=True)
        metric_names = {k.removeprefix("reward/"): v for k, v in env.metric_names.items()}
        reward_key = env.program.key
    # Every canonical position is summed, used or not, so the program is the same for every spec.
    term_metrics = tuple(f"reward/{n}" for n in env.position_names) if spec is not None else ()
    totals = _EpisodeTotals({f"reward/{k}": v for k, v in metric_names.items()})
    term_names = set(metric_names.values()) if spec is not None else None
    digest = program_digest(model_id, config, reward_key)
    lock = None
    if compile_cache is not None:
        enable_compilation_cache(Path(compile_cache))
        lock = CompileLock(Path(compile_cache), digest)
    restore, warm_up = None, None
    if base_checkpoint:
        restore = load_params(base_checkpoint)
        if not read_checkpoint_config(base_checkpoint).get("value_trained", True):
            restore, warm_up = _warm_up_critic(env, config, restore, controls, spec, seed, compile_cache, digest)
    started = time.monotonic()
    history: list[Progress] = []
    filled = False

    def before_epochs(step: int, make_policy, params) -> None:
        """Brax calls this after the reset and before every epoch: the first time, the
        spec's numbers go into the reset state's placeholder (`fill_params`)."""
        nonlocal filled
        if spec is None or filled:
            return
        from tabrl.rewards.wrapper import fill_params

        env_state = _brax_env_state()
        if env_state is None:
            raise RuntimeError("could not find Brax's environment state to give it the reward's numbers")
        fill_params(env_state, env.params)
        fill_controls(env_state, controls)
        filled = True

    def on_metrics(step: int, metrics: dict) -> None:
        if lock is not None:
            lock.release(compiled=True)  # the first epoch ran: its program is in the persistent cache
        episode = totals.update(_brax_env_state())
        report = _progress_from({**episode, **metrics}, int(step), num_steps, started, term_names)
        history.append(report)
        if not (_is_finite(report.episode_reward) and all(map(_is_finite, report.terms.values()))):
            raise NonFiniteRewardError(
                f"the reward became non-finite after {report.env_steps:,} steps "
                f"(episode reward {report.episode_reward}, terms {report.terms})"
            )
        if progress is not None:
            progress(report)

    kwargs = config.model_dump(exclude={"network"})
    stored = contextlib.nullcontext(None)
    if compile_cache is not None and executable_store_enabled():
        from tabrl.executables import program_fingerprint, stored_pmaps

        stored = stored_pmaps(Path(compile_cache) / "executables", program_fingerprint(digest, base_env))
    with CacheCounter() as cache, replicate_on_brax_mesh(), stored as executables:
        if lock is not None:
            lock.acquire()
            started = time.monotonic()  # waiting for another compile is not this run's time
        try:
            make_policy, params, _ = ppo.train(
                environment=env,
                wrap_env_fn=episode_stats_wrapper(term_metrics),
                network_factory=_network_factory(config),
                progress_fn=on_metrics,
                policy_params_fn=before_epochs,
                eval_env=_no_eval_env(env),
                num_eval_envs=1,
                run_evals=False,
                log_training_metrics=False,
                restore_params=restore,
                seed=seed,
                **kwargs,
            )
        finally:
            if lock is not None:
                lock.release()
    total_seconds = time.monotonic() - started
    # Compiling happens before the first epoch reports; the time beyond what all
    # steps take at the steady pace of the later epochs is reported as compile time.
    paces = sorted(p.env_steps_per_second for p in history[1:] if p.env_steps_per_second)
    sps = paces[len(paces) // 2] if paces else None
    env_steps = history[-1].env_steps if history else 0
    train_seconds = min(total_seconds, env_steps / sps) if sps else total_seconds
    compile_seconds = total_seconds - train_seconds
    last = history[-1] if history else None
    run = {
        "compile_seconds": round(compile_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "env_steps_per_second": sps,
        "lock_wait_seconds": round(lock.waited_seconds, 2) if lock else 0.0,
        "cache_hits": cache.hits,
        "cache_misses": cache.misses,
        "program_key": digest,
        "trace_seconds": round(cache.seconds["trace"], 2),
        "lower_seconds": round(cache.seconds["lower"], 2),
        "xla_seconds": round(cache.seconds["xla"], 2),
        "executables_loaded": executables.loaded if executables else 0,
        "executables_compiled": executables.compiled if executables else 0,
        "critic_warm_up": warm_up,
        "base_checkpoint": str(base_checkpoint) if base_checkpoint else None,
        "started_at": wall_started_at,
        "training_started_at": wall_started_at + (started - wall_started),
        "finished_at": time.time(),
    }
    checkpoint = save_checkpoint(out_dir, model_id, config, params, spec, history, run)
    return TrainResult(
        checkpoint=str(checkpoint),
        env_steps=last.env_steps if last else 0,
        final_reward=last.episode_reward if last else None,
        reward_per_step=last.reward_per_step if last else None,
        compile_seconds=run["compile_seconds"],
        train_seconds=run["train_seconds"],
        env_steps_per_second=sps,
        history=history,
        wall_seconds=round(time.monotonic() - wall_started, 2),
        lock_wait_seconds=run["lock_wait_seconds"],
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        program_key=digest,
        trace_seconds=run["trace_seconds"],
        lower_seconds=run["lower_seconds"],
        xla_seconds=run["xla_seconds"],
        executables_loaded=run["executables_loaded"],
        executables_compiled=run["executables_compiled"],
    )


# --- checkpoints ----------------------------------------------------------------


def save_checkpoint(out_dir: Path, model_id: str, config: PPOConfig, params, spec, history,
                    run: dict | None = None) -> Path:
    """params.msgpack (normalizer, policy, value) and config.json (everything to rebuild it,
    and `run`: how the run went: timings, cache hits)."""
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
        "run": run or {},
        # An imported base policy has no value network (tabrl.base_policy): a fine-tune warms one up.
        "value_trained": not (run or {}).get("base_policy"),
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
        raise ValueError(f"{checkpoint}: unsupported checkpoint format {meta.get('format')!r} (this TabRL "
                         f"reads format {CHECKPOINT_FORMAT}; train the approach again)")
    return meta


def policy_env(model_id: str, spec=None, *, hold_command: bool = True):
    """The environment a TabRL policy acts in: Playground's, with the approach's controls
    (`tabrl.controls`): its command held fixed (zero without a spec) and the phase observed."""
    from tabrl.controls import ControlledEnv, controls_of
    from tabrl.playground import load_env

    return ControlledEnv(load_env(model_id), controls_of(spec), hold_command=hold_command)


def checkpoint_networks(config: PPOConfig, env, seed: int = 0):
    """Brax's PPO networks for `config` on `env`, and freshly initialised
    (normaliser, policy, value) parameters: the template a checkpoint loads into."""
    import jax
    from brax.training.acme import running_statistics, specs

    preprocess = running_statistics.normalize if config.normalize_observations else (lambda x, y: x)
    networks = _network_factory(config)(env.observation_size, env.action_size, preprocess_observations_fn=preprocess)
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


def load_params(checkpoint: Path, template=None):
    """The (normalizer, policy, value) parameters of a checkpoint, as Brax's types;
    `template` (from `checkpoint_networks`) saves loading the environment again."""
    from flax import serialization

    if template is None:
        meta = read_checkpoint_config(checkpoint)
        _, template = checkpoint_networks(PPOConfig.model_validate(meta["ppo"]), policy_env(meta["model_id"]))
    state = serialization.msgpack_restore((Path(checkpoint) / "params.msgpack").read_bytes())
    return serialization.from_state_dict(template, state)


def load_policy(checkpoint: Path, deterministic: bool = True):
    """A jitted `policy(obs, key) -> action` and the checkpoint's metadata."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    meta = read_checkpoint_config(checkpoint)
    networks, template = checkpoint_networks(PPOConfig.model_validate(meta["ppo"]), policy_env(meta["model_id"]))
    params = load_params(checkpoint, template)
    policy = ppo_networks.make_inference_fn(networks)(params[:2], deterministic=deterministic)
    return jax.jit(lambda obs, key: policy(obs, key)[0]), meta
