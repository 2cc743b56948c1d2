"""The executable store (tabrl/training/executables.py): a trial whose training program
was compiled by another process loads it without tracing.

Fast tests use a toy `jax.pmap` in this process; the CartpoleBalance test in
tests/test_compile_reuse.py checks the real training program across processes
and that a loaded program trains exactly as a freshly traced one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tabrl.training.executables import _signature, env_fingerprint, program_fingerprint, prune, stored_pmaps


def _double(x):
    return x * 2.0


def _run(store, fingerprint="fp", value=1.0):
    with stored_pmaps(store, fingerprint) as counter:
        result = jax.pmap(_double, axis_name="i")(jnp.full((1, 3), value))
    return counter, np.asarray(result)


def _as_a_new_process():
    """Forget the executables this process holds: the next load reads the file."""
    from tabrl.training import executables

    executables._IN_MEMORY.clear()


def test_first_call_compiles_and_stores_then_a_new_context_loads(tmp_path):
    first, out = _run(tmp_path)
    assert (first.compiled, first.loaded) == (1, 0)
    assert np.array_equal(out, np.full((1, 3), 2.0))
    assert len(list(tmp_path.glob("*.pjrt"))) == 1
    _as_a_new_process()
    second, out = _run(tmp_path, value=4.0)
    assert (second.compiled, second.loaded) == (0, 1)
    assert np.array_equal(out, np.full((1, 3), 8.0))  # the loaded program computes, not replays
    assert jax.pmap.__module__.startswith("jax")  # the real pmap is back after the context


def test_a_different_fingerprint_or_shape_is_a_different_program(tmp_path):
    _run(tmp_path)
    other, _ = _run(tmp_path, fingerprint="another model")
    assert other.compiled == 1
    with stored_pmaps(tmp_path, "fp") as counter:
        jax.pmap(_double, axis_name="i")(jnp.ones((1, 5)))
    assert counter.compiled == 1
    assert len(list(tmp_path.glob("*.pjrt"))) == 3


def test_a_damaged_file_is_compiled_again_and_replaced(tmp_path):
    _run(tmp_path)
    (stored,) = tmp_path.glob("*.pjrt")
    stored.write_bytes(b"not an executable")
    counter, out = _run(tmp_path, value=3.0)
    assert (counter.compiled, counter.loaded) == (1, 0)
    assert np.array_equal(out, np.full((1, 3), 6.0))
    assert _run(tmp_path)[0].loaded == 1


def test_a_process_that_trains_again_keeps_the_executable_in_memory(tmp_path, monkeypatch):
    """A warm trial worker (tune_jobs.workers) trains one run after another: the second run
    does not read the file again, and a file replaced since is read afresh."""
    from tabrl.training import executables

    _run(tmp_path)

    def no_read(path):
        raise AssertionError(f"read {path} again")

    with monkeypatch.context() as patched:
        patched.setattr(executables, "_deserialize", no_read)
        counter, out = _run(tmp_path, value=5.0)
    assert (counter.compiled, counter.loaded) == (0, 1) and np.array_equal(out, np.full((1, 3), 10.0))
    (stored,) = tmp_path.glob("*.pjrt")
    stored.write_bytes(b"not an executable")  # another stamp: read, found damaged, compiled again
    assert _run(tmp_path)[0].compiled == 1


def test_prune_keeps_the_most_recently_used(tmp_path):
    import os

    for i, age in enumerate((300, 200, 100)):
        path = tmp_path / f"{i}.pjrt"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1e9 - age, 1e9 - age))
    prune(tmp_path, max_bytes=2500)
    assert sorted(p.name for p in tmp_path.glob("*.pjrt")) == ["1.pjrt", "2.pjrt"]


def test_fingerprints_follow_the_model_not_the_process():
    from tabrl.playground import load_env

    balance, again, swingup = load_env("CartpoleBalance"), load_env("CartpoleBalance"), load_env("CartpoleSwingup")
    assert env_fingerprint(balance) == env_fingerprint(again)
    assert env_fingerprint(balance) != env_fingerprint(swingup)  # same code, other model and config
    assert program_fingerprint("digest", balance) != program_fingerprint("other digest", balance)
    # Tree structures print object addresses (MJX's static arrays); the key must not.
    states = [jax.eval_shape(jax.vmap(env.reset), jax.random.split(jax.random.PRNGKey(0), 2))
              for env in (balance, again)]
    assert " at 0x" in str(jax.tree_util.tree_structure(states[0]))
    assert _signature((states[0],)) == _signature((states[1],))


@pytest.mark.parametrize("options", [{"axis_name": "i", "donate_argnums": (0,)}])
def test_options_are_part_of_the_key(tmp_path, options):
    _run(tmp_path)
    with stored_pmaps(tmp_path, "fp") as counter:
        jax.pmap(_double, **options)(jnp.ones((1, 3)))
    assert counter.compiled == 1


def test_a_new_run_starts_loading_what_the_fingerprint_stored(tmp_path):
    from tabrl.training.executables import _Store

    _run(tmp_path)
    _as_a_new_process()
    store = _Store(tmp_path, "fp")
    store.load_ahead()
    (key,) = store._ahead  # the one program the first run stored, loading in the background
    assert store.load(key) is not None and store.counter.loaded == 1
    store.close()
    other = _Store(tmp_path, "another model")
    other.load_ahead()
    assert not other._ahead


_CACHED_THEN_STORED = """
import sys
import jax, jax.numpy as jnp, numpy as np
from tabrl.training.executables import stored_pmaps
from tabrl.training import enable_compilation_cache

root, use_store = sys.argv[1], sys.argv[2] == "store"
enable_compilation_cache(root + "/jax-cache")

def f(x, y):
    z = x[1:] + jnp.sin(y[:-1]) * 3.0
    return jnp.cumsum(z) @ jnp.ones((z.shape[0], 4)), jax.lax.psum(z.sum(), "i")

x, y = jnp.arange(64.0).reshape(1, 64) / 7, jnp.arange(64.0).reshape(1, 64) / 5
if use_store:
    with stored_pmaps(root + "/executables", "fp") as counter:
        out = jax.pmap(f, axis_name="i")(x, y)
    print("loaded", counter.loaded, "compiled", counter.compiled)
else:
    out = jax.pmap(f, axis_name="i")(x, y)
z = np.asarray(x[0, 1:]) + np.sin(np.asarray(y[0, :-1])) * 3.0
expected = (np.cumsum(z) @ np.ones((63, 4)))[None], np.array([z.sum()])
assert all(np.allclose(np.asarray(a), b, rtol=1e-4) for a, b in zip(out, expected)), "wrong result"
print("ok")
"""


def test_a_program_in_jaxs_cache_is_stored_whole(tmp_path):
    """Regression: a program JAX had in its persistent cache (say, compiled before the
    store existed) was stored by re-serializing JAX's loaded copy, and the next process
    failed running it ("Function bitcast_add_fusion not found"). Three fresh processes:
    fill JAX's cache, store (JAX's cache would hit), load from the store and run."""
    import subprocess
    import sys

    def run(mode):
        done = subprocess.run([sys.executable, "-c", _CACHED_THEN_STORED, str(tmp_path), mode],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert run("plain").strip().endswith("ok")
    assert "loaded 0 compiled 1" in run("store")
    assert "loaded 1 compiled 0" in run("store")  # and its result was right
