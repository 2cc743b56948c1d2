"""What a reset looks like is traced once per machine, not once per trial process (tabrl.reset_shapes)."""

from __future__ import annotations

import jax
import pytest

from tabrl import reset_shapes as shapes_module
from tabrl.controls import ControlledEnv, has_command
from tabrl.playground import load_env
from tabrl.reset_shapes import reset_shapes


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache folder and a process that has read nothing yet."""
    monkeypatch.setenv("TABRL_JAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shapes_module, "_KNOWN", {})
    monkeypatch.setattr(shapes_module, "_BY_ENV", shapes_module.weakref.WeakKeyDictionary())
    return tmp_path / "cache" / "reset-shapes"


def forget(monkeypatch):
    """As a new process: nothing in memory, and tracing is not allowed."""
    monkeypatch.setattr(shapes_module, "_KNOWN", {})
    monkeypatch.setattr(shapes_module, "_BY_ENV", shapes_module.weakref.WeakKeyDictionary())

    def no_trace(env):
        raise AssertionError("traced a reset the machine already knew")

    monkeypatch.setattr(shapes_module, "_traced", no_trace)


@pytest.mark.parametrize("model, command", [("Go1JoystickFlatTerrain", True), ("CartpoleBalance", False)])
def test_the_shapes_are_playgrounds_and_the_next_process_reads_them_without_a_trace(fresh, monkeypatch, model, command):
    env = load_env(model)
    first = reset_shapes(env)
    assert first.observation_size == env.observation_size  # Playground's own answer (a trace)
    assert first.has_command is command and has_command(env) is command
    assert len(list(fresh.glob("*.json"))) == 1
    forget(monkeypatch)
    assert reset_shapes(load_env(model)) == first


def test_the_controlled_envs_size_is_what_its_reset_returns(fresh):
    env = ControlledEnv(load_env("Go1JoystickFlatTerrain"))
    obs = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs
    assert env.observation_size == {name: tuple(x.shape) for name, x in obs.items()}


def test_a_wrapper_is_its_own_entry_and_a_broken_file_is_answered_again(fresh, monkeypatch):
    env = load_env("CartpoleBalance")
    assert shapes_module._key(ControlledEnv(env)) != shapes_module._key(env)
    first = reset_shapes(env)
    (path,) = fresh.glob("*.json")
    path.write_text('{"observation_size": ')
    monkeypatch.setattr(shapes_module, "_KNOWN", {})
    assert reset_shapes(env) == first
    assert path.read_text() == first.model_dump_json()
