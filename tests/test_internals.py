"""Every private Brax, JAX, jaxlib, MuJoCo and Playground internal TabRL uses
(`tabrl.internals`) is still there, shaped as it was written for, in the
versions it was written for. These fail loudly on an upgrade: check the internal
against the new version, then add the version to `internals.WRITTEN_FOR`."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest

from tabrl import internals


@pytest.mark.parametrize("library", sorted(internals.WRITTEN_FOR))
def test_the_installed_versions_are_the_ones_written_for(library):
    assert version(library).startswith(internals.WRITTEN_FOR[library]), (library, version(library))


def test_another_version_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(internals.WRITTEN_FOR, "brax", ("9.9.",))
    internals.require.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"thing was written for brax 9\.9\.\*, found 0\.14"):
            internals.require("brax", "thing")
    finally:
        internals.require.cache_clear()


def test_brax_ppo_train_is_shaped_as_the_internals_expect():
    from brax.training.agents.ppo import train as ppo_train

    source = inspect.getsource(ppo_train.train)
    # brax_env_state: the environment state is ppo.train's local `env_state`.
    assert "env_state" in ppo_train.train.__code__.co_varnames
    assert "training_epoch_with_timing(training_state, env_state, epoch_keys)" in source
    # The callbacks see no environment state (why the frame walk exists).
    assert "policy_params_fn(current_step, make_policy, params)" in source
    assert "progress_fn(current_step, metrics)" in source
    # replicate_on_brax_mesh: the pmap axis and the initial placement.
    assert ppo_train._PMAP_AXIS_NAME == "i"
    assert "training_state = jax.device_put_replicated(" in source
    # replaced_pmap: the reset and the epoch are pmapped when ppo.train runs.
    assert inspect.signature(ppo_train.train).parameters["use_pmap_on_reset"].default is True
    assert "reset_fn_ = jax.pmap(env.reset, axis_name=_PMAP_AXIS_NAME)" in source
    assert "jax.pmap(" in inspect.getsource(ppo_train)
    # no_eval_env: the Evaluator is built whatever run_evals says.
    before_loop = source.split("for it in range(num_evals_after_init)")[0]
    assert "evaluator = acting.Evaluator(" in before_loop and "eval_env or environment" in before_loop


def test_jax_and_jaxlib_internals_exist():
    import jax
    from jax._src import compilation_cache
    from jaxlib import lapack

    assert callable(compilation_cache.reset_cache)
    assert isinstance(jax.config.jax_enable_compilation_cache, bool)
    assert callable(jax.device_put_replicated) and callable(jax.pmap)
    assert callable(lapack._lapack.initialize)
    internals.prepare_custom_calls()
    with internals.bypassing_jax_cache():
        assert jax.config.jax_enable_compilation_cache is False


def test_the_pmap_and_placement_patches_restore_jax():
    import jax

    pmap, put = jax.pmap, jax.device_put_replicated
    with internals.replaced_pmap(lambda *a, **k: None):
        assert jax.pmap is not pmap
    with internals.replicate_on_brax_mesh():
        assert jax.device_put_replicated is not put
    assert jax.pmap is pmap and jax.device_put_replicated is put


def test_playground_internals_exist():
    import mujoco_playground
    from mujoco_playground._src import mjx_env
    from mujoco_playground._src.dm_control_suite import cartpole
    from mujoco_playground._src.locomotion.go1 import base as go1_base
    from mujoco_playground._src.locomotion.go1 import joystick

    assert hasattr(mjx_env, "MENAGERIE_PATH")
    assert issubclass(joystick.Joystick, go1_base.Go1Env)
    assert list(inspect.signature(joystick.Joystick._get_obs).parameters)[:3] == ["self", "data", "info"]
    assert "self._default_pose = " in inspect.getsource(joystick.Joystick._post_init)
    assert "self._config" in inspect.getsource(cartpole)  # env_config
    # no_eval_env: an MjxEnv whose abstract members are all defined, made without MjxEnv.__init__.
    env = internals.no_eval_env(type("Env", (), {"action_size": 3})())
    assert isinstance(env, mujoco_playground.MjxEnv) and env.action_size == 3
    assert getattr(mujoco_playground.MjxEnv, "__abstractmethods__", set()) <= set(dir(env))
    assert internals.is_go1(env) is False


def test_mujoco_missing_file_message_is_parsed():
    import mujoco

    xml = ('<mujoco><asset><mesh file="/nonexistent/nope.stl"/></asset>'
           '<worldbody><geom type="mesh" mesh="nope"/></worldbody></mujoco>')
    with pytest.raises(ValueError) as error:
        mujoco.MjModel.from_xml_string(xml)
    assert internals.missing_file(error.value) == "/nonexistent/nope.stl"
    assert internals.missing_file(ValueError("something else")) is None


def test_every_private_import_in_tabrl_is_in_internals():
    """Private library modules are imported in `internals` only (the stdlib's and TabRL's own aside)."""
    import re
    from pathlib import Path

    root = Path(internals.__file__).resolve().parent  # the tabrl package
    pattern = re.compile(r"(from|import) (jax|jaxlib|brax|mujoco_playground|mujoco)\S*\._|_getframe|_PMAP_AXIS")
    offenders = [f"{path.relative_to(root)}:{number}" for path in root.rglob("*.py") if path.name != "internals.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
