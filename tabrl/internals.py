"""Every use TabRL makes of a private part of Brax, JAX, jaxlib, MuJoCo or Playground.

Each function here relies on something those libraries do not promise to keep: a
private name, a local variable, the text of an error, or when they look a public
function up. Each was written for the versions in `WRITTEN_FOR` and checks them
(`require`) the first time it is used, so an upgrade fails at once, naming the
expected and the found version, instead of quietly training something else.
`tests/test_internals.py` checks the versions and the shape of every internal.
After checking an internal against a new version, add the version here.

Why `brax_env_state` walks into `ppo.train`'s frame (no supported hook exists in
Brax 0.14.2): the reward's numbers and the controls reach the first training
state after the reset (`fill_params`, `fill_controls`) because the reset must be
one program for every spec. Brax compiles the reset as `pmap(env.reset)(keys)`:
its only input is the keys, so anything `wrap_env_fn` or `randomization_fn`
(both run while the reset is traced) could add would be a constant of the
program, a different program per spec. `restore_params` sets only the
normaliser, policy and value; `policy_params_fn(step, make_policy, params)` and
`progress_fn(step, metrics)` never see the environment state. The state lives
in `ppo.train`'s local `env_state`, read here between two epochs. The same walk
reads the episode sums `EpisodeStatsWrapper` keeps in that state.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from importlib.metadata import version as installed

WRITTEN_FOR = {
    "brax": ("0.14.",),
    "jax": ("0.9.",),
    "jaxlib": ("0.9.",),
    "mujoco": ("4.0.",),
    "playground": ("0.2.",),
}
"""Library -> the version prefixes each internal below was written for and checked against."""
PLAYGROUND_VERSIONS = WRITTEN_FOR["playground"]


@functools.cache
def require(library: str, what: str) -> None:
    """Once per process and internal: the installed `library` is one `what` was written for."""
    found = installed(library)
    if not found.startswith(WRITTEN_FOR[library]):
        raise RuntimeError(f"tabrl.internals: {what} was written for {library} "
                           f"{' or '.join(v + '*' for v in WRITTEN_FOR[library])}, found {found}: check "
                           "it against the new version (tests/test_internals.py), then add the version")


# --- Brax's PPO ------------------------------------------------------------------


def brax_env_state():
    """The environment state of the running `ppo.train` (its local `env_state`), read from
    its frame between two epochs (never while an epoch runs); None outside `ppo.train`.
    Why no supported hook does this: the module docstring."""
    from brax.training.agents.ppo import train as ppo_train

    require("brax", "reading ppo.train's local env_state")
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is ppo_train.train.__code__:
            return frame.f_locals.get("env_state")
        frame = frame.f_back
    return None


@contextlib.contextmanager
def replicate_on_brax_mesh() -> Iterator[None]:
    """Make Brax's training epoch compile once instead of twice.

    Brax 0.14.2 places the initial training state with `jax.device_put_replicated`,
    which (under jax 0.9's shard_map-based pmap) shards it over a mesh whose axis
    is named `_device_put_replicated`, while the epoch's outputs live on a mesh
    named after Brax's pmap axis (`ppo.train._PMAP_AXIS_NAME`, `i`). The second
    epoch's arguments thus carry a different sharding than the first's, jit's
    cache misses, and the whole epoch is lowered and compiled again (about 15 s
    on CartpoleBalance on 2 cores). Within this context,
    `jax.device_put_replicated` places arrays on the same mesh the epoch's outputs
    use, so the second call finds the first compile.
    """
    import jax
    import numpy as np
    from brax.training.agents.ppo import train as ppo_train
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    require("brax", "ppo.train._PMAP_AXIS_NAME")
    require("jax", "the mesh of jax.device_put_replicated")
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


@contextlib.contextmanager
def replaced_pmap(pmap) -> Iterator[None]:
    """Within the block, `jax.pmap` is `pmap`: Brax's `ppo.train` looks `jax.pmap` up
    when it runs and pmaps its reset and its training epoch (`use_pmap_on_reset`),
    which is how the executable store hands it ready-made programs."""
    import jax

    require("brax", "ppo.train building its reset and epoch with jax.pmap at call time")
    original = jax.pmap
    jax.pmap = pmap
    try:
        yield
    finally:
        jax.pmap = original


def no_eval_env(env):
    """A stand-in for Brax's evaluation environment, which TabRL never runs.

    `ppo.train` builds its `Evaluator` even with `run_evals=False`, and that
    compiles and runs the evaluation environment's reset (an MJX forward pass,
    several seconds of compile on a CPU). This environment resets to a few
    zeros, so that compile costs next to nothing. It skips `MjxEnv.__init__`.
    """
    from mujoco_playground import MjxEnv, State

    require("brax", "ppo.train's Evaluator resetting the evaluation environment")
    require("playground", "an MjxEnv without its __init__")

    class NoEvalEnv(MjxEnv):
        def __init__(self):  # no model, no config: nothing of MjxEnv's is used
            pass

        def reset(self, rng):
            import jax.numpy as jnp

            # Nothing ever reads this observation; sizing it like the real one would
            # cost a trace of the real reset (MjxEnv.observation_size).
            return State(data=jnp.zeros(()), obs=jnp.zeros(1), reward=jnp.zeros(()),
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


# --- JAX's compilation cache and jaxlib's kernels ----------------------------------


@contextlib.contextmanager
def bypassing_jax_cache() -> Iterator[None]:
    """Compile for real, neither reading nor writing JAX's persistent cache.

    Why: an XLA:CPU executable that JAX loaded from its persistent cache does not
    serialize whole again. Stored that way, it loads, then fails when run
    ("NOT_FOUND: Function slice_add_fusion.4 not found"; measured with a JAX cache
    filled before the store existed). A program compiled here is serialized straight
    from XLA's compile. JAX's switch is read once per process, hence the resets
    (`jax._src.compilation_cache.reset_cache`).
    """
    import jax
    from jax._src import compilation_cache

    require("jax", "jax._src.compilation_cache.reset_cache")
    before = jax.config.jax_enable_compilation_cache
    compilation_cache.reset_cache()
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", before)
        compilation_cache.reset_cache()


def prepare_custom_calls() -> None:
    """Set up what lowering would have set up for a loaded executable's custom calls.

    On the CPU, jaxlib resolves its LAPACK kernels (MJX's Cholesky solves call
    them) only when a program using them is lowered; a process that loads such
    an executable without ever lowering one would jump to a null kernel and
    crash (measured: a segfault in the first reset). GPU kernels are registered
    when the GPU plugin loads.
    """
    try:
        from jaxlib import lapack
    except ImportError:
        return
    require("jaxlib", "jaxlib.lapack._lapack.initialize")
    lapack._lapack.initialize()


# --- Playground's environments ------------------------------------------------------


def set_menagerie_path(root) -> None:
    """Point Playground's robot models at `root` (`mjx_env.MENAGERIE_PATH`, read when a
    locomotion or manipulation environment loads its XML)."""
    from etils import epath
    from mujoco_playground._src import mjx_env

    require("playground", "mujoco_playground._src.mjx_env.MENAGERIE_PATH")
    mjx_env.MENAGERIE_PATH = epath.Path(root)


def missing_file(error: Exception) -> str | None:
    """The file a model failed to load for, from the text of MuJoCo's error as Playground
    passes it on (a ValueError reading "Error opening file '<path>'"); None for other errors."""
    text = str(error)
    if not isinstance(error, ValueError) or "Error opening file" not in text:
        return None
    require("mujoco", "the text of MuJoCo's 'Error opening file' message")
    return text.split("Error opening file", 1)[1].split("\n", 1)[0].strip(" ':")


def is_go1(env) -> bool:
    """Whether `env` (wrapped or not) is one of Playground's Go1 environments
    (`mujoco_playground._src.locomotion.go1.base.Go1Env`)."""
    from mujoco_playground._src.locomotion.go1 import base as go1_base

    require("playground", "mujoco_playground._src.locomotion.go1.base.Go1Env")
    return isinstance(getattr(env, "unwrapped", env), go1_base.Go1Env)


def env_observation(env, data, info):
    """The observation `env` makes of `data` and `info` (Playground's `env._get_obs`)."""
    require("playground", "the environments' _get_obs(data, info)")
    return env._get_obs(data, info)


def env_config(env):
    """The environment's config (Playground's `env._config`), or None."""
    return getattr(env, "_config", None)


@contextlib.contextmanager
def shifted_default_pose(env, offsets):
    """Within the block, the Go1 environment's `_default_pose` is shifted by `offsets`
    (traced values are fine: use it around the environment's `step` or `_get_obs` while
    tracing). Checked for Playground versions whose Go1 environments read `_default_pose`
    in `step`, `_get_obs` and their own reward terms only (by reading their source)."""
    require("playground", "Go1's _default_pose")
    saved = env._default_pose
    env._default_pose = saved + offsets
    try:
        yield
    finally:
        env._default_pose = saved
