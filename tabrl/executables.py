"""Compiled training programs kept on disk and loaded without tracing.

Why: JAX's persistent compilation cache skips XLA's compile but not tracing
and lowering, because its key is a hash of the lowered program. A trial whose
program is already cached still traces Brax's training epoch (an MJX step
inside a scan inside PPO's loss) and lowers it to HLO: on CartpoleBalance on
2 cores that was 7-9 s of the 10-11 s the second and third trials of a batch
spent before training (BENCHMARKS.json, session 2).

Here the key is computed from what the program is built from instead of from
the program: the training program's digest (model, PPO config, reward
program, JAX/Brax versions, backend), a fingerprint of the environment (the
compiled MuJoCo model's bytes and the environment's config), of TabRL's own
source, of the library versions that shape the program, of `XLA_FLAGS`, of
the devices and of the host CPU, plus the function's name and its arguments' shapes and dtypes.
`stored_pmaps` replaces `jax.pmap` while Brax's `ppo.train` runs: the first
call of each pmapped function with a new key traces, lowers and compiles it
once and writes the serialized executable
(`jax.experimental.serialize_executable`); every later process with the same
key loads it (a fraction of a second) and never traces.

Soundness rests on the key: anything that changes the program must change the
key. Everything in the program comes from the closure Brax builds from the
arguments of `ppo.train` (all in the digest), the environment (fingerprinted),
and the code of TabRL, Brax, Playground, MJX, Flax and Optax (versions and
TabRL's source hash). The store is a folder this machine's own TabRL processes
write (pickle files): it is a cache, not an input, and is never filled from
user or model text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STORE_FORMAT = 1
STORE_MAX_BYTES = 2 << 30
LIBRARIES = ("jax", "jaxlib", "brax", "mujoco", "mujoco-mjx", "playground", "flax", "optax")


@functools.cache
def code_fingerprint() -> str:
    """TabRL's own Python source and the versions of the libraries that build the program."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
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
    config = getattr(env, "_config", None)
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


def program_fingerprint(program_digest: str, env: Any) -> str:
    """Everything a training program depends on, beyond its arguments' shapes."""
    import jax

    parts = [
        STORE_FORMAT,
        program_digest,
        env_fingerprint(env),
        code_fingerprint(),
        os.environ.get("XLA_FLAGS", ""),
        [(d.platform, d.device_kind) for d in jax.local_devices()],
        host_fingerprint(),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


class StoreCounter:
    """What `stored_pmaps` did during one run: programs loaded, compiled, and their seconds."""

    def __init__(self) -> None:
        self.loaded = 0
        self.compiled = 0
        self.load_seconds = 0.0
        self.compile_seconds = 0.0


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _without_addresses(text: str) -> str:
    """Object reprs in tree structures carry memory addresses (MJX's static
    arrays, functools.partial); they differ in every process but say nothing
    the env fingerprint does not."""
    return _ADDRESS.sub("", text)


def _signature(args: tuple) -> str:
    import jax

    leaves, tree = jax.tree_util.tree_flatten(args)
    shapes = [
        (tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x).__name__)), bool(getattr(x, "weak_type", False)))
        for x in leaves
    ]
    return _without_addresses(repr((str(tree), shapes)))


class _StoredPmap:
    """Stands in for `jax.pmap(fun, **options)`: same calls, executables from the store."""

    def __init__(self, original, fun, options: dict, store: Path, fingerprint: str, counter: StoreCounter):
        self._pmapped = original(fun, **options)
        self._name = _without_addresses(f"{getattr(fun, '__module__', '')}.{getattr(fun, '__qualname__', repr(fun))}")
        self._options = repr(sorted(options.items()))
        self._store = store
        self._fingerprint = fingerprint
        self._counter = counter
        self._compiled: dict[str, Any] = {}

    def __call__(self, *args):
        signature = _signature(args)
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._compiled[signature] = self._load_or_compile(args, signature)
        return compiled(*args)

    def _load_or_compile(self, args: tuple, signature: str):
        from jax.experimental import serialize_executable

        key = hashlib.sha256(
            "\n".join([self._fingerprint, self._name, self._options, signature]).encode()
        ).hexdigest()[:32]
        path = self._store / f"{key}.pjrt"
        started = time.monotonic()
        if path.exists():
            _prepare_custom_calls()
            try:
                payload, in_tree, out_tree = pickle.loads(path.read_bytes())
                compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
            except Exception:  # a truncated or foreign file: compile afresh and overwrite it
                path.unlink(missing_ok=True)
            else:
                os.utime(path)  # least recently used goes first when the store is full
                self._counter.loaded += 1
                self._counter.load_seconds += time.monotonic() - started
                return compiled
        compiled = self._pmapped.lower(*args).compile()
        try:
            blob = pickle.dumps(serialize_executable.serialize(compiled))
        except Exception:  # an executable this backend cannot serialize: use it, store nothing
            blob = None
        if blob is not None:
            self._store.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(blob)
            partial.replace(path)
            prune(self._store)
        self._counter.compiled += 1
        self._counter.compile_seconds += time.monotonic() - started
        return compiled

    def lower(self, *args, **kwargs):
        return self._pmapped.lower(*args, **kwargs)


def _prepare_custom_calls() -> None:
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
    lapack._lapack.initialize()


def prune(store: Path, max_bytes: int = STORE_MAX_BYTES) -> None:
    """Delete the least recently used executables until the store fits in `max_bytes`."""
    files = sorted(store.glob("*.pjrt"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for path in files:
        total += path.stat().st_size
        if total > max_bytes:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def stored_pmaps(store: Path, fingerprint: str) -> Iterator[StoreCounter]:
    """While active, `jax.pmap` returns functions whose executables come from `store`.

    Meant to wrap one `brax...ppo.train` call (whose training epoch and reset are
    `jax.pmap`s); `fingerprint` is `program_fingerprint(...)` of that call.
    """
    import jax

    counter = StoreCounter()
    original = jax.pmap

    def pmap(fun=None, *args, **options):
        if fun is None:  # used as a decorator factory
            return lambda f: pmap(f, *args, **options)
        if args:  # positional options: not a call Brax makes; leave it alone
            return original(fun, *args, **options)
        return _StoredPmap(original, fun, options, Path(store), fingerprint, counter)

    jax.pmap = pmap
    try:
        yield counter
    finally:
        jax.pmap = original
