"""What an approach holds fixed and what its policy sees: the joystick command and the phase clock.

Two things a reward approach needs from the environment that Playground's
environments do not give it:

* **The approach's command.** The joystick models (Go1, G1, T1, ...) feed the policy a
  velocity command (forward m/s, sideways m/s, turn rad/s) that the environment
  resamples at random during an episode. For an approach that random command is
  noise, so `ControlledEnv` writes the approach's command (`Command`: a held part
  plus an optional swing on a beat) into `state.info["command"]` before every step
  (the observation the step returns is computed from it) and again after (undoing
  the environment's resampling), and recomputes the reset observation with it. The base policies were trained
  to follow that command, so they do the gross motion (stand, walk, turn) from
  the first step; the fine-tune adds the style.
* **The approach's pose** (Go1): the joint pose the base policy stands on, shifted
  to crouch, bow, tilt, bob or sway its hips (`tabrl.pose`), in every step and in the
  reset's observation.
* **The phase.** Rhythmic terms reward a motion locked to the episode clock
  (`A sin(2 pi f t)`), so the policy must know the time: `ControlledEnv`
  appends `[sin(2 pi clock_hz t), cos(2 pi clock_hz t)]` to every observation
  (each key of a dict observation). A base policy gets zero input weights for
  them (`tabrl.base_policy`), so it behaves exactly as before until training
  moves them.

The numbers live in `state.info[CONTROLS_KEY]`, not in the program: like the
reward's numbers (`tabrl.rewards.wrapper`), every approach of a model runs the
same compiled program. With `placeholder=True` the reset writes zeros and the
trainer fills the real numbers in before the first step (`fill_controls`); the
first observation of each training episode then shows a zero command (Brax's
auto-reset replays the first reset's observation), one step in an episode.
"""

from __future__ import annotations

import contextlib
from typing import Any

from mujoco_playground import wrapper as _playground_wrapper

from tabrl.pose import joint_offsets, posable, shifted_default_pose
from tabrl.internals import env_observation
from tabrl.reset_shapes import COMMAND_KEY

CONTROLS_KEY = "tabrl_controls"
PHASE_SIZE = 2
"""Entries appended to every observation: sin and cos of the phase clock."""


def controls_of(spec=None) -> dict[str, Any]:
    """The numbers `ControlledEnv` holds for a reward spec (None: zero command, standing
    pose, 1 Hz clock)."""
    import numpy as np

    from tabrl.pose import pose_values

    command = spec.command if spec is not None else None
    return {
        "pose": pose_values(getattr(spec, "pose", None)),
        "command": np.asarray(command.as_array() if command else np.zeros(3), np.float32),
        "swing": np.asarray(command.swing_array() if command else np.zeros(3), np.float32),
        "beat_hz": np.asarray(command.beat_hz if command else 0.5, np.float32),
        "clock_hz": np.asarray(spec.clock_hz if spec is not None else 1.0, np.float32),
    }


def command_at(controls: dict, time):
    """The command at `time`: the held part plus the swing on the beat (`Command`)."""
    import jax.numpy as jnp

    return controls["command"] + controls["swing"] * jnp.sin(2 * jnp.pi * controls["beat_hz"] * time)


def has_command(env) -> bool:
    """Whether the environment keeps a 3-number joystick command in its state
    (read off an abstract reset once per machine: `tabrl.reset_shapes`)."""
    from tabrl.reset_shapes import reset_shapes

    return reset_shapes(env).has_command


def _with_phase(obs, phase):
    import jax
    import jax.numpy as jnp

    return jax.tree_util.tree_map(lambda x: jnp.concatenate([x, phase.astype(x.dtype)], axis=-1), obs)


class ControlledEnv(_playground_wrapper.Wrapper):
    """A Playground environment with the approach's command held fixed and the phase observed.

    `hold_command=False` leaves the environment's own command alone (base
    policies trained on the environment's joystick task need its random commands)."""

    def __init__(self, env: Any, controls: dict | None = None, *, placeholder: bool = False,
                 hold_command: bool = True):
        super().__init__(env)
        self.controls = controls if controls is not None else controls_of(None)
        self.placeholder = placeholder
        self.hold_command = hold_command and has_command(env)
        self.posable = posable(env.unwrapped)

    @property
    def observation_size(self):
        """Playground's, plus the phase. Playground traces a reset for it every time it is
        read (2 s for the Go1); `tabrl.reset_shapes` reads it once per machine."""
        import jax

        from tabrl.reset_shapes import reset_shapes

        return jax.tree_util.tree_map(
            lambda s: (s + PHASE_SIZE) if isinstance(s, int) else (*tuple(s)[:-1], tuple(s)[-1] + PHASE_SIZE),
            reset_shapes(self.env).observation_size, is_leaf=lambda s: isinstance(s, (int, tuple)),
        )

    def reset(self, rng):
        import jax
        import jax.numpy as jnp

        state = self.env.reset(rng)
        controls = jax.tree_util.tree_map(jnp.asarray, self.controls)
        if self.placeholder:
            controls = jax.tree_util.tree_map(jnp.zeros_like, controls)
        info = {**state.info, CONTROLS_KEY: controls}
        obs = state.obs
        if self.hold_command:
            info[COMMAND_KEY] = command_at(controls, state.data.time)
        if self.hold_command or self.posable:  # the reset's observation, with our command and pose
            with self._pose_at(controls, state.data.time):
                obs = env_observation(self.env, state.data, info)
        return state.replace(obs=_with_phase(obs, self._phase(state.data.time, controls)), info=info)

    def step(self, state, action):
        controls = state.info[CONTROLS_KEY]
        env_obs = _without_phase(state.obs)
        info = dict(state.info)
        if self.hold_command:
            info[COMMAND_KEY] = command_at(controls, state.data.time)
        with self._pose_at(controls, state.data.time):
            next_state = self.env.step(state.replace(obs=env_obs, info=info), action)
        info = {**next_state.info, CONTROLS_KEY: controls}
        if self.hold_command:  # undo the environment's resampling
            info[COMMAND_KEY] = command_at(controls, state.data.time)
        obs = _with_phase(next_state.obs, self._phase(next_state.data.time, controls))
        return next_state.replace(obs=obs, info=info)

    def _pose_at(self, controls, time):
        if not self.posable:
            return contextlib.nullcontext()
        return shifted_default_pose(self.env.unwrapped, joint_offsets(controls["pose"], time))

    @staticmethod
    def _phase(time, controls):
        import jax.numpy as jnp

        angle = 2 * jnp.pi * controls["clock_hz"] * time
        return jnp.stack([jnp.sin(angle), jnp.cos(angle)])


def with_phase_numpy(obs, time: float, clock_hz: float):
    """An environment observation (a vector, or a dict of vectors) as a TabRL policy sees it,
    `time` seconds into the episode: the phase entries appended (for serving one action)."""
    import numpy as np

    angle = 2 * np.pi * clock_hz * time
    phase = np.array([np.sin(angle), np.cos(angle)], np.float32)
    if isinstance(obs, dict):
        return {k: np.concatenate([np.asarray(v, np.float32), phase]) for k, v in obs.items()}
    return np.concatenate([np.asarray(obs, np.float32), phase])


def _without_phase(obs):
    import jax

    return jax.tree_util.tree_map(lambda x: x[..., :-PHASE_SIZE], obs)


def fill_info(state, key: str, values) -> None:
    """Put `values` into a (batched, possibly sharded) reset state's placeholder
    `state.info[key]`, in place.

    `state.info` is a plain dict, so this changes the state its holder passes on;
    each array keeps the placeholder's shape and sharding, so a program compiled
    for the state needs no recompile."""
    import jax
    import numpy as np

    def put(slot, value):
        return jax.device_put(np.broadcast_to(np.asarray(value, dtype=slot.dtype), slot.shape), slot.sharding)

    state.info[key] = jax.tree_util.tree_map(put, state.info[key], values)


def fill_controls(state, controls: dict) -> None:
    """The controls' numbers into a training reset state (see `fill_info`)."""
    fill_info(state, CONTROLS_KEY, controls)
