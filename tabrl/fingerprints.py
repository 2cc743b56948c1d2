"""Fingerprints of what compiled programs and traced shapes depend on: TabRL's source and
the libraries' versions, an environment (its compiled MuJoCo model, config and class), and
the host CPU. The executable store (`tabrl.training.executables`) and the reset shapes
(`tabrl.reset_shapes`) key their files on them."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

from tabrl.internals import env_config

LIBRARIES = ("jax", "jaxlib", "brax", "mujoco", "mujoco-mjx", "playground", "flax", "optax")


@functools.cache
def code_fingerprint() -> str:
    """TabRL's own Python source and the versions of the libraries that build the program."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent  # the tabrl package
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    for name in LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}={version};".encode())
    return digest.hexdigest()


def env_fingerprint(env: Any) -> str:
    """The compiled MuJoCo model (every constant MJX bakes into the program) and the env's config."""
    import mujoco
    import numpy as np

    digest = hashlib.sha256()
    model = getattr(env, "mj_model", None)
    if model is not None:
        buffer = np.zeros(mujoco.mj_sizeModel(model), dtype=np.uint8)
        mujoco.mj_saveModel(model, None, buffer)
        digest.update(buffer.tobytes())
    config = env_config(env)
    if config is not None:
        to_json = getattr(config, "to_json_best_effort", None) or getattr(config, "to_json", None)
        digest.update((to_json(sort_keys=True) if to_json else repr(config)).encode())
    # Constructor choices live in plain attributes: CartpoleBalance and CartpoleSwingup share
    # a class, a model and a config, and differ in which methods `_reset_randomize` and
    # `_get_reward` are.
    digest.update(f"{type(env).__module__}.{type(env).__qualname__};".encode())
    for name, value in sorted(vars(env).items()):
        if isinstance(value, (bool, int, float, str, type(None), np.generic)):
            digest.update(f"{name}={value!r};".encode())
        elif callable(value) and hasattr(value, "__qualname__"):
            digest.update(f"{name}={value.__module__}.{value.__qualname__};".encode())
        elif isinstance(value, np.ndarray) and value.size <= 1 << 16:
            digest.update(f"{name}={value.dtype}{value.shape}".encode() + value.tobytes())
    return digest.hexdigest()


@functools.cache
def host_fingerprint() -> str:
    """The CPU's model and instruction-set flags: XLA compiles CPU code for the
    machine it runs on, and a store on shared storage (a cluster's EFS) must not
    hand an AVX-512 program to a machine without it."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    wanted = [l for l in lines if l.startswith(("model name", "flags"))][:2]
    return hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
