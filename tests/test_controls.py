"""The approach's command and the phase the policy sees (tabrl.controls, RewardSpec.command)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from tabrl.rewards.library import with_controls
from tabrl.rewards.proposers import propose_offline
from tabrl.rewards.spec import Command, RewardSpec, Term

GO1 = "Go1JoystickFlatTerrain"


def test_a_command_outside_what_the_base_learned_is_refused():
    with pytest.raises(ValidationError, match="forward"):
        Command(forward=2.0)
    with pytest.raises(ValidationError, match="leaves the range the base policy learned"):
        Command(sideways=0.5, sway=0.5)
    assert Command(forward=0.3, rock=1.2).describe() == "forward 0.3 m/s, rock ±1.2 m/s at 0.5 Hz"
    assert Command().describe() == "stand in place"


@pytest.mark.parametrize("prompt, expect", [
    ("Walk like you're on the moon", lambda c: 0 < c.forward <= 0.6 and not c.turn),
    ("Spin like a top", lambda c: abs(c.turn) >= 0.8 and not c.forward),
    ("Stand perfectly still like a statue", lambda c: c == Command()),
])
def test_the_offline_library_sets_the_command_a_prompt_implies(prompt, expect):
    literal = propose_offline(GO1, prompt).approaches[0].reward
    assert literal.command is not None
    assert expect(literal.command), literal.command


def test_every_go1_approach_carries_a_command_and_its_strongest_beat_as_clock():
    proposal = propose_offline(GO1, "Keep shaking your hips aloha dude!")
    for approach in proposal.approaches:
        spec = approach.reward
        assert spec.command is not None
        rhythmic = [t for t in spec.terms if t.kind == "oscillate" and t.frequency > 0]
        if rhythmic:
            assert spec.clock_hz == max(rhythmic, key=lambda t: abs(t.weight)).frequency


def test_the_command_is_read_off_the_terms_and_stays_in_range():
    spec = RewardSpec(terms=[
        Term(name="dash", kind="track", feature="forward_velocity", target=3.0, tolerance=0.5),
        Term(name="shuffle", kind="oscillate", feature="lateral_velocity", amplitude=2.0, frequency=0.8,
             tolerance=0.3),
    ])
    command = with_controls(spec, "go1").command
    assert command.forward == 1.5 and command.sway == 0.8 and command.beat_hz == 0.8
    assert with_controls(spec, "generic").command is None  # models without a joystick get none


def test_models_without_a_command_get_only_the_phase():
    """CartpoleBalance: no command to hold; the observation gains sin and cos of the clock."""
    import jax

    from tabrl.controls import PHASE_SIZE, ControlledEnv, controls_of
    from tabrl.playground import load_env

    raw = load_env("CartpoleBalance")
    spec = RewardSpec(clock_hz=2.0, terms=[Term(name="up", kind="track", feature="joint_positions", target=0.0)])
    env = ControlledEnv(raw, controls_of(spec))
    assert not env.hold_command
    assert env.observation_size == raw.observation_size + PHASE_SIZE
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    np.testing.assert_allclose(state.obs[-2:], [0.0, 1.0], atol=1e-6)
    step = jax.jit(env.step)
    for _ in range(5):
        state = step(state, np.zeros(raw.action_size, np.float32))
    t = float(state.data.time)
    np.testing.assert_allclose(state.obs[-2:], [math.sin(4 * math.pi * t), math.cos(4 * math.pi * t)], atol=1e-5)
    assert state.obs.shape == (raw.observation_size + PHASE_SIZE,)


def test_the_api_appends_the_phase_to_an_environment_observation():
    from tabrl.controls import with_phase_numpy

    obs = with_phase_numpy({"state": [1.0, 2.0], "privileged_state": [3.0]}, time=0.25, clock_hz=1.0)
    np.testing.assert_allclose(obs["state"], [1, 2, 1, 0], atol=1e-6)
    np.testing.assert_allclose(obs["privileged_state"], [3, 1, 0], atol=1e-6)
