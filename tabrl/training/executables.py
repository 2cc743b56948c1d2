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

import collections
import concurrent.futures
import contextlib
import hashlib
import json
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tabrl.files import write_atomically
from tabrl.fingerprints import code_fingerprint, env_fingerprint, host_fingerprint
from tabrl.internals import bypassing_jax_cache, prepare_custom_calls, replaced_pmap

STORE_FORMAT = 1
STORE_MAX_BYTES = 2 << 30
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
    """What the store did during one run: programs loaded and programs compiled."""

    def __init__(self) -> None:
        self.loaded = 0
        self.compiled = 0


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


def _deserialize(path: Path):
    from jax.experimental import serialize_executable

    payload, in_tree, out_tree = pickle.loads(path.read_bytes())
    return serialize_executable.deserialize_and_load(payload, in_tree, out_tree)


_IN_MEMORY: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
"""Executables this process loaded or compiled, by their file (`_stamp`), most recent last: a
process that trains one run after another (a warm trial worker, `tune_jobs.workers`) loads each
once. A file replaced or damaged since is another stamp, and is read again."""
IN_MEMORY_MAX = 16


def _stamp(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path), stat.st_ino, stat.st_size


def _remember(path: Path, compiled) -> None:
    stamp = _stamp(path)
    if stamp is None:
        return
    _IN_MEMORY[stamp] = compiled
    _IN_MEMORY.move_to_end(stamp)
    while len(_IN_MEMORY) > IN_MEMORY_MAX:
        _IN_MEMORY.popitem(last=False)


class _Store:
    """One training run's view of the store folder: its fingerprint, its counter,
    and the programs a background thread is loading ahead of their first call.

    Why ahead: loading an executable (about 0.7 s for CartpoleBalance's training
    epoch on 2 cores) releases the GIL, so it overlaps Brax's set-up in Python;
    the keys to load come from the fingerprint's index, written by the process
    that compiled them."""

    def __init__(self, folder: Path, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.counter = StoreCounter()
        self.index = self.folder / f"{fingerprint}.index"
        self._ahead: dict[str, concurrent.futures.Future] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def key(self, *parts: str) -> str:
        return hashlib.sha256("\n".join([self.fingerprint, *parts]).encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pjrt"

    def load_ahead(self) -> None:
        try:
            keys = dict.fromkeys(self.index.read_text().split())
        except OSError:
            return
        keys = [k for k in keys if self.path(k).exists() and _stamp(self.path(k)) not in _IN_MEMORY]
        if not keys:
            return
        prepare_custom_calls()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tabrl-load-ahead")
        self._ahead = {k: self._pool.submit(_deserialize, self.path(k)) for k in keys}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._ahead = {}  # a cancelled load is not a damaged file: `load` reads it afresh

    def load(self, key: str):
        """The executable stored under `key`, or None (absent or unreadable: a damaged file is removed)."""
        path = self.path(key)
        ahead = self._ahead.pop(key, None)
        remembered = _IN_MEMORY.get(_stamp(path))
        try:
            if remembered is not None:
                compiled = remembered
            elif ahead is not None:
                compiled = ahead.result()
            elif path.exists():
                prepare_custom_calls()
                compiled = _deserialize(path)
            else:
                return None
        except Exception:  # a truncated or foreign file: compile afresh and overwrite it
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used goes first when the store is full
        _remember(path, compiled)
        self.counter.loaded += 1
        return compiled

    def save(self, key: str, compiled) -> None:
        from jax.experimental import serialize_executable

        self.counter.compiled += 1
        try:
            blob = pickle.dumps(serialize_executable.serialize(compiled))
        except Exception:  # an executable this backend cannot serialize: use it, store nothing
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path(key), blob)
        _remember(self.path(key), compiled)
        with open(self.index, "a") as index:  # one short line per append: no torn lines
            index.write(key + "\n")
        prune(self.folder)


class _Stored:
    """Stands in for `transform(fun, **options)` (`jax.pmap` or `jax.jit`): the same
    calls, with executables from the store."""

    def __init__(self, transform, fun, options: dict, store: _Store):
        self._transformed = transform(fun, **options)
        self._name = _without_addresses(f"{getattr(fun, '__module__', '')}.{getattr(fun, '__qualname__', repr(fun))}")
        self._options = repr((getattr(transform, "__name__", ""), sorted(options.items())))
        self._store = store
        self._compiled: dict[str, Any] = {}

    def __call__(self, *args):
        signature = _signature(args)
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._compiled[signature] = self._load_or_compile(args, signature)
        return compiled(*args)

    def _load_or_compile(self, args: tuple, signature: str):
        key = self._store.key(self._name, self._options, signature)
        compiled = self._store.load(key)
        if compiled is None:
            lowered = self._transformed.lower(*args)
            with bypassing_jax_cache():
                compiled = lowered.compile()
            self._store.save(key, compiled)
        return compiled


def prune(store: Path, max_bytes: int = STORE_MAX_BYTES) -> None:
    """Delete the least recently used executables until the store fits in `max_bytes`."""
    files = sorted(store.glob("*.pjrt"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for path in files:
        total += path.stat().st_size
        if total > max_bytes:
            path.unlink(missing_ok=True)


_active: list[_Store] = []


def stored_jit(fun, **options):
    """`jax.jit(fun, **options)`, from the store while `stored_pmaps` is active.

    For the programs TabRL itself builds inside Brax's `ppo.train` (the networks'
    `init`: tracing Flax modules costs more than compiling them)."""
    import jax

    if not _active:
        return jax.jit(fun, **options)
    return _Stored(jax.jit, fun, options, _active[-1])


def program_store(cache_dir: Path, program_digest: str, env: Any):
    """The store context for the programs of `program_digest` on `env`, in `cache_dir`'s
    store folder: `stored_pmaps`, or a context that yields None when the store is off
    (`TABRL_EXECUTABLE_STORE=0`)."""
    from tabrl.settings import executable_store_enabled

    if not executable_store_enabled():
        return contextlib.nullcontext(None)
    return stored_pmaps(Path(cache_dir) / "executables", program_fingerprint(program_digest, env))


@contextlib.contextmanager
def stored_pmaps(store: Path, fingerprint: str) -> Iterator[StoreCounter]:
    """While active, `jax.pmap` (and `stored_jit`) return functions whose
    executables come from `store`; the programs an earlier run stored under this
    `fingerprint` start loading at once, in the background.

    Meant to wrap one `brax...ppo.train` call (whose training epoch and reset are
    `jax.pmap`s); `fingerprint` is `program_fingerprint(...)` of that call.
    """
    import jax

    run = _Store(Path(store), fingerprint)
    original = jax.pmap

    def pmap(fun=None, *args, **options):
        if fun is None:  # used as a decorator factory
            return lambda f: pmap(f, *args, **options)
        if args:  # positional options: not a call Brax makes; leave it alone
            return original(fun, *args, **options)
        return _Stored(original, fun, options, run)

    run.load_ahead()
    _active.append(run)
    try:
        with replaced_pmap(pmap):
            yield run.counter
    finally:
        _active.pop()
        run.close()
