"""One compiled training program for every approach of a family (issue 8).

The fast tests check the mechanism without compiling anything big: the lowered
HLO of the reset and of a training rollout is byte-identical for different
specs, the numbers put into the state after the reset give the spec's reward,
and Brax's initial placement no longer forces a second compile. The slow test
trains two approaches against one cache folder, the second in its own process
as under Tune, and checks from the executable store's and JAX's own counters
that the second traced and compiled nothing, and that it trained bit for bit
as a process that compiled the program itself.
"""

from __future__ import annotations

import fcntl
import math

import numpy as np
import pytest

PROMPT = "Swing the pole wildly but never let it fall"


@pytest.fixture(scope="module")
def cartpole():
    from tabrl.playground import load_env
    from tabrl.rewards import propose

    specs = [a.reward for a in propose("CartpoleBalance", PROMPT).approaches]
    return load_env("CartpoleBalance"), specs


def _training_env(raw, spec, shared: bool = True):
    from tabrl.rewards.wrapper import SharedProgramRewardEnv, SpecRewardEnv
    from tabrl.training import episode_stats_wrapper

    if shared:
        env = SharedProgramRewardEnv(raw, spec, placeholder_params=True)
        metrics = tuple(f"reward/{n}" for n in env.position_names)
    else:
        env = SpecRewardEnv(raw, spec)
        metrics = tuple(f"reward/{t.name}" for t in spec.terms)
    return env, episode_stats_wrapper(metrics)(env, episode_length=50, action_repeat=1)


def _lowered(wrapped, n_envs: int = 2, n_steps: int = 3) -> tuple[str, str]:
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(0), n_envs)
    reset_text = jax.jit(wrapped.reset).lower(keys).as_text()
    state = jax.eval_shape(wrapped.reset, keys)
    actions = jax.ShapeDtypeStruct((n_steps, n_envs, wrapped.action_size), jnp.float32)

    def rollout(state, actions):
        return jax.lax.scan(lambda s, a: (wrapped.step(s, a), s.reward), state, actions)

    return reset_text, jax.jit(rollout).lower(state, actions).as_text()


def test_specs_of_one_family_lower_to_the_same_training_program(cartpole):
    raw, specs = cartpole
    assert len({tuple(t.name for t in s.terms) for s in specs}) == 3  # three different specs
    programs = [_lowered(_training_env(raw, spec)[1]) for spec in specs]
    assert programs[1] == programs[0] and programs[2] == programs[0]
    # The control: with the numbers closed over (the plain SpecRewardEnv), the
    # programs differ, so the equality above is not an accident of the check.
    closed = [_lowered(_training_env(raw, spec, shared=False)[1])[1] for spec in specs[:2]]
    assert closed[0] != closed[1]


def test_numbers_filled_after_reset_give_the_specs_reward(cartpole):
    import jax
    import jax.numpy as jnp

    from tabrl.rewards.wrapper import PARAMS_KEY, fill_params

    raw, specs = cartpole
    spec = specs[2]
    shared, wrapped = _training_env(raw, spec)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    state = jax.jit(wrapped.reset)(keys)
    assert float(jnp.abs(state.info[PARAMS_KEY]["slots"]["weight"]).sum()) == 0.0  # placeholder
    fill_params(state, shared.params)
    actions = jnp.full((4, raw.action_size), 0.3)
    stepped = jax.jit(wrapped.step)(state, actions)

    _, plain = _training_env(raw, spec, shared=False)  # the numbers closed over, same wrappers
    expected = jax.jit(plain.step)(jax.jit(plain.reset)(keys), actions)
    assert np.allclose(stepped.reward, expected.reward, atol=1e-5) and np.all(np.abs(expected.reward) > 0)
    # Terms come out at canonical positions; the host maps them back to names.
    for metric, name in shared.metric_names.items():
        assert np.allclose(stepped.metrics[metric], expected.metrics[f"reward/{name}"], atol=1e-5)
    assert set(shared.metric_names.values()) == {t.name for t in spec.terms}


def test_brax_initial_state_placement_does_not_force_a_second_compile():
    """Brax's pattern: `device_put_replicated` a state, then call a donating pmap on it
    twice. Without `replicate_on_brax_mesh` the second call compiles again."""
    import jax
    import jax.numpy as jnp

    from tabrl.training import replicate_on_brax_mesh

    def count_compiles(patched: bool) -> int:
        compiles = []

        def listener(event, duration, **_):
            if event == "/jax/core/compile/backend_compile_duration":
                compiles.append(duration)

        epoch = jax.pmap(lambda s: jax.tree_util.tree_map(lambda x: x + 1, s), axis_name="i", donate_argnums=(0,))
        state = {"a": jnp.zeros((3,)), "steps": jnp.zeros((), jnp.uint32)}
        if patched:
            with replicate_on_brax_mesh():
                state = jax.device_put_replicated(state, jax.local_devices()[:1])
        else:
            state = jax.device_put_replicated(state, jax.local_devices()[:1])
        jax.monitoring.register_event_duration_secs_listener(listener)
        try:
            for _ in range(3):
                state = epoch(state)
        finally:
            jax.monitoring.unregister_event_duration_listener(listener)
        assert int(state["a"][0, 0]) == 3
        return len(compiles)

    assert count_compiles(patched=False) == 2  # the Brax behaviour this works around
    assert count_compiles(patched=True) == 1
    assert jax.device_put_replicated.__module__.startswith("jax")  # restored


def test_compile_lock_is_exclusive_and_done_once_compiled(tmp_path):
    from tabrl.training import CompileLock

    first, second = CompileLock(tmp_path, "abc"), CompileLock(tmp_path, "abc")
    first.acquire()
    with open(first.path, "a+") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    first.release(compiled=True)
    assert first.done_path.exists()
    second.acquire()  # already compiled: returns without holding the lock
    with open(first.path, "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)



def test_a_new_tabrl_does_not_find_the_old_compiled_mark(tmp_path, monkeypatch):
    """The executable store keys on TabRL's source, so must the lock's mark: after an
    upgrade the first trial compiles again while the others wait for it."""
    from tabrl.training import SpeedLayer
    from tabrl.training import executables

    before = SpeedLayer(tmp_path, "digest")
    critic_before = before.critic_lock().path
    before.lock.acquire()
    before.compiled()
    assert SpeedLayer(tmp_path, "digest").lock.done_path.exists()
    monkeypatch.setattr(executables, "code_fingerprint", lambda: "another-tabrl-source")
    after = SpeedLayer(tmp_path, "digest")
    assert not after.lock.done_path.exists()
    assert after.critic_lock().path != critic_before

_TRIAL = """
import sys
from tabrl.rewards import propose
from tabrl.training import train_approach
spec = [a.reward for a in propose("CartpoleBalance", sys.argv[1]).approaches][int(sys.argv[2])]
result = train_approach("CartpoleBalance", spec, num_steps=5000, out_dir=sys.argv[3], compile_cache=sys.argv[4])
print("RESULT " + result.model_dump_json())
"""


def _trial(index: int, out, cache):
    """One approach in a fresh process, as a Tune trial runs it."""
    import json
    import subprocess
    import sys

    from tabrl.training import TrainResult

    run = subprocess.run([sys.executable, "-c", _TRIAL, PROMPT, str(index), str(out), str(cache)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(l for l in run.stdout.splitlines() if l.startswith("RESULT "))
    return TrainResult.model_validate(json.loads(line.removeprefix("RESULT ")))


@pytest.mark.slow
def test_a_trial_loads_the_program_tabrl_warm_compiled(cartpole, tmp_path):
    """`tabrl warm` (what `make up` has the server do) and then a trial, each in its own
    process as under Tune: the trial, of another approach, traces nothing big, compiles
    nothing, and trains exactly as a process that traced and compiled by itself."""
    import json
    import os
    import subprocess
    import sys

    from tabrl.training import load_params, train_approach

    _, specs = cartpole
    cache = tmp_path / "jax-cache"
    run = subprocess.run([sys.executable, "-m", "tabrl_cli", "warm", "--model", "CartpoleBalance", "--steps", "5000",
                          "--json"], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "TABRL_JAX_CACHE_DIR": str(cache)})
    assert run.returncode == 0, run.stderr[-3000:]
    warm = json.loads(run.stdout)
    assert warm["executables_compiled"] >= 2  # the reset and the training epoch, into the store
    assert warm["rendering_seconds"] > 0  # and the video rollout (no base policy: a fresh network's)
    second = _trial(1, tmp_path / "b", cache)
    assert warm["program_key"] == second.program_key
    assert second.executables_loaded == warm["executables_compiled"] and second.executables_compiled == 0
    assert second.cache_misses == 0  # and every small program came from JAX's persistent cache
    assert second.trace_seconds < warm["trace_seconds"] / 5
    assert second.env_steps >= 5000
    reported = [p for p in second.history if p.episode_reward is not None]
    assert reported and math.isfinite(reported[-1].episode_reward)
    assert set(reported[-1].terms) == {t.name for t in specs[1].terms}

    # The control: the same approach traced and compiled afresh, without any cache.
    fresh = train_approach("CartpoleBalance", specs[1], num_steps=5000, out_dir=tmp_path / "c")
    assert fresh.executables_loaded == 0
    import jax

    loaded_leaves = jax.tree_util.tree_leaves(load_params(second.checkpoint))
    fresh_leaves = jax.tree_util.tree_leaves(load_params(fresh.checkpoint))
    assert len(loaded_leaves) == len(fresh_leaves)
    assert all(np.array_equal(a, b) for a, b in zip(loaded_leaves, fresh_leaves))
    assert [p.episode_reward for p in second.history] == [p.episode_reward for p in fresh.history]
