"""What an environment's reset looks like, read once per machine instead of once per process.

Playground's `observation_size` traces the environment's reset every time it is read
(2.3 s for the Go1 on 2 cores), and TabRL also asks whether the reset keeps a joystick
command (another trace). A new trial process asked three times: for the base
checkpoint's template, for the critic's networks and for Brax's. One abstract reset
answers both questions. The answer is kept in the process and in a small JSON file in the
compile cache folder (`tabrl.settings.compile_cache_dir()`), keyed like the executable
store: the environment's fingerprint (its compiled MuJoCo model, config and class), the
wrappers around it, and TabRL's and the libraries' code. A later process reads the file
and traces nothing. A file that cannot be read is answered afresh and written again.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tabrl.files import write_atomically


class ResetShapes(BaseModel):
    observation_size: int | dict[str, tuple[int, ...]]
    """As Playground's `observation_size` gives it: the last axis of an array observation,
    or {key: shape} for a dict observation."""
    has_command: bool
    """The reset's `info` holds a 3-number joystick command."""


COMMAND_KEY = "command"
"""Where a Playground locomotion environment keeps its joystick command in a reset's `info`."""

_KNOWN: dict[str, ResetShapes] = {}
_BY_ENV: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # the key costs 0.1 s for the Go1


def reset_shapes(env: Any) -> ResetShapes:
    """`env`'s reset shapes, from this process's memory, the machine's file, or one abstract reset."""
    key = _BY_ENV.get(env) or _key(env)
    _BY_ENV[env] = key
    if key in _KNOWN:
        return _KNOWN[key]
    path = _folder() / f"{key}.json"
    try:
        shapes = ResetShapes.model_validate_json(path.read_text())
    except (OSError, ValueError):
        shapes = _traced(env)
        _write(path, shapes)
    _KNOWN[key] = shapes
    return shapes


def _traced(env: Any) -> ResetShapes:
    import jax

    # An abstract key, not `PRNGKey(0)`: that would compile (eagerly) before a trial turns JAX's
    # persistent cache on, and the trial after `tabrl warm` would then compile it again.
    state = jax.eval_shape(env.reset, jax.ShapeDtypeStruct((2,), jax.numpy.uint32))
    obs = state.obs
    if isinstance(obs, dict):
        size: int | dict[str, tuple[int, ...]] = {name: tuple(x.shape) for name, x in obs.items()}
    else:
        size = int(obs.shape[-1])
    command = state.info.get(COMMAND_KEY)
    return ResetShapes(observation_size=size, has_command=command is not None and tuple(command.shape) == (3,))


def _key(env: Any) -> str:
    from tabrl.fingerprints import code_fingerprint, env_fingerprint

    chain, layer = [], env
    while True:  # the wrappers change what a reset returns; each is named in the key
        chain.append(f"{type(layer).__module__}.{type(layer).__qualname__}")
        inner = getattr(layer, "env", None)
        if inner is None or inner is layer:
            break
        layer = inner
    parts = [env_fingerprint(getattr(env, "unwrapped", env)), chain, code_fingerprint()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _folder() -> Path:
    from tabrl.settings import compile_cache_dir

    return compile_cache_dir() / "reset-shapes"


def _write(path: Path, shapes: ResetShapes) -> None:
    """A folder that cannot be written is no error: the next process traces again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, shapes.model_dump_json())
    except OSError:
        pass
