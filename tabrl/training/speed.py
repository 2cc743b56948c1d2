"""The opt-in speed layer: one compile for every process that trains the same program.

The plain path (`tabrl.training.loop`) traces and compiles Brax's training program
in every process. With a `compile_cache` folder, `SpeedLayer` adds three things
around it, none of which changes what is trained:

* JAX's persistent compilation cache in that folder (`enable_compilation_cache`);
* the `CompileLock`: the first process to compile a program holds a file lock
  until the program is stored, and the others then load it instead of compiling
  the same program at the same time;
* the executable store (`tabrl.training.executables`): the reset and the training
  epoch ready-made, no tracing; Brax's small set-up programs come from JAX's cache.

One compiled program serves every approach of a family: the reward's numbers
travel in the environment state (`SharedProgramRewardEnv`), so the training
epoch's HLO is the same for every spec (see `tabrl.rewards.compile`), and
`program_digest` names it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tabrl.training.config import PPOConfig

CACHE_MAX_BYTES = 4 << 30


def enable_compilation_cache(cache_dir: Path) -> None:
    """JAX's persistent compilation cache: a repeated request skips compiling.

    Every program is cached, however quick to compile: Brax's set-up runs about 40
    small eager programs in each new trial process (optimizer initialisation and
    bookkeeping). Measured on CartpoleBalance on 2 cores, when they were about 90
    (before the networks' init moved to the executable store): XLA time 3.7 s
    compiling them, 0.3 s loading them from the cache."""
    import jax

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if importlib.util.find_spec("filelock") is None:  # JAX's size limit (LRU first) needs it
        return
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)


class CacheCounter:
    """While active: JAX persistent-cache hits and writes, and seconds spent in each
    stage of JAX's compile pipeline (tracing to a jaxpr, lowering to HLO, XLA
    compile or load from the persistent cache), from JAX's monitoring events."""

    _active: list[CacheCounter] = []
    _registered = False
    STAGES = {
        "/jax/core/compile/jaxpr_trace_duration": "trace",
        "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
        "/jax/core/compile/backend_compile_duration": "xla",
    }

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.seconds = {"trace": 0.0, "lower": 0.0, "xla": 0.0}

    @classmethod
    def _on_event(cls, event: str, **_: Any) -> None:
        for counter in cls._active:
            if event == "/jax/compilation_cache/cache_hits":
                counter.hits += 1
            elif event == "/jax/compilation_cache/cache_misses":
                counter.misses += 1

    @classmethod
    def _on_duration(cls, event: str, duration: float, **_: Any) -> None:
        stage = cls.STAGES.get(event)
        if stage:
            for counter in cls._active:
                counter.seconds[stage] += duration

    def __enter__(self) -> CacheCounter:
        import jax

        if not CacheCounter._registered:
            jax.monitoring.register_event_listener(CacheCounter._on_event)
            jax.monitoring.register_event_duration_secs_listener(CacheCounter._on_duration)
            CacheCounter._registered = True
        CacheCounter._active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        CacheCounter._active.remove(self)


class CompileLock:
    """An exclusive file lock per training program in the shared cache folder.

    Why: the trials of a batch start together and, without it, each compiles
    the same program at the same time (three 15-60 s compiles sharing two
    cores). With it, the first trial compiles while the others wait; when the
    first reports its first epoch, the program is in JAX's persistent cache and
    the others load it in a fraction of a second. Compiling once in the driver
    before the trials start would also work, but Brax offers no way to compile
    its training program without running it. The lock is advisory (`flock`),
    so a crashed holder frees it, and it is held at most until the first epoch
    or the end of training.
    """

    def __init__(self, cache_dir: Path, key: str):
        self.path = Path(cache_dir) / "locks" / f"{key}.lock"
        self.done_path = self.path.with_suffix(".done")
        self._file = None
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Wait for whoever compiles this program; return at once when it is already cached."""
        import fcntl

        if self.done_path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+")
        started = time.monotonic()
        fcntl.flock(self._file, fcntl.LOCK_EX)
        self.waited_seconds = time.monotonic() - started
        if self.done_path.exists():  # compiled while we waited: no reason to hold the others
            self.release()

    def release(self, compiled: bool = False) -> None:
        """Let the others go; `compiled`: the program is in the cache now (marks it done)."""
        import fcntl

        if self._file is not None:
            if compiled:
                self.done_path.touch()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def program_digest(model_id: str, config: PPOConfig, reward_program_key: Any) -> str:
    """What the training program depends on: model, PPO config, reward program, versions."""
    import brax
    import jax

    text = json.dumps(
        [model_id, config.model_dump(mode="json"), repr(reward_program_key), jax.__version__,
         brax.__version__, jax.default_backend()],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class SpeedLayer:
    """The speed layer of one training run; with `compile_cache` None, it does nothing.

    Use: `layer = SpeedLayer(cache, digest)` before anything compiles (it turns JAX's
    cache on), `with layer.around_training(env):` around `ppo.train`, and
    `layer.compiled()` once the first epoch ran (its program is stored: let the others go)."""

    def __init__(self, compile_cache: Path | None, digest: str):
        self.folder = Path(compile_cache) if compile_cache is not None else None
        self.digest = digest
        self.lock = CompileLock(self.folder, self._lock_key(digest)) if self.folder is not None else None
        self.store = None  # the executable store's counter while training, when it is on
        self.critic_waited_seconds = 0.0
        if self.folder is not None:
            enable_compilation_cache(self.folder)

    def critic_lock(self) -> CompileLock | None:
        """The lock for the critic warm-up's programs (`tabrl.finetune`)."""
        return CompileLock(self.folder, self._lock_key(f"{self.digest}-critic")) if self.folder is not None else None

    @contextlib.contextmanager
    def around_critic_warm_up(self, env, settings: dict) -> Iterator[Any]:
        """Around one `tabrl.finetune.warm_up_critic(..., jit=...)`: yields the `jit` to give
        it. With the speed layer on, its rollout and fit come from the executable store
        (keyed like the training program, plus `settings`: the warm-up's keywords, which
        shape its programs) and the first trial builds them while the others wait
        (`critic_lock`). Measured on the Go1 in a new process, 2 cores: the warm-up took
        13.3 s traced and compiled from JAX's cache, 5.7-6.2 s from the store."""
        from tabrl.training.executables import program_store, stored_jit

        lock = self.critic_lock()
        stored = contextlib.nullcontext(None)
        if self.folder is not None:
            settings_text = json.dumps(settings, sort_keys=True, default=str)
            stored = program_store(self.folder, f"{self.digest}-critic-{settings_text}", env)
        with stored:
            if lock is not None:
                lock.acquire()
            try:
                yield stored_jit  # `jax.jit` itself while no store is active
                if lock is not None:
                    lock.release(compiled=True)
            finally:
                if lock is not None:
                    lock.release()
                    self.critic_waited_seconds = lock.waited_seconds

    @staticmethod
    def _lock_key(digest: str) -> str:
        """The lock's "compiled" mark holds for what the executable store keys on: this
        TabRL's source too. Without it, after an upgrade every trial found the old mark,
        skipped the wait and compiled the same program at once (3 x 120 s instead of 58 s
        then two loads, measured on the Go1)."""
        from tabrl.training.executables import code_fingerprint

        return f"{digest}-{code_fingerprint()[:12]}"

    @contextlib.contextmanager
    def around_training(self, env) -> Iterator[None]:
        """Around one `ppo.train`: its pmaps from the executable store (`env`: the Playground
        environment, fingerprinted into the store's key), and this program's lock held until
        `compiled()` or the end."""
        from tabrl.training.executables import program_store

        stored = program_store(self.folder, self.digest, env) if self.folder is not None else contextlib.nullcontext()
        with stored as counter:
            self.store = counter
            if self.lock is not None:
                self.lock.acquire()
            try:
                yield
            finally:
                if self.lock is not None:
                    self.lock.release()

    def compiled(self) -> None:
        """The first epoch ran: its program is in the caches, the others may load it."""
        if self.lock is not None:
            self.lock.release(compiled=True)

    def report(self) -> dict[str, Any]:
        return {
            "lock_wait_seconds": round(self.lock.waited_seconds, 2) if self.lock else 0.0,
            "executables_loaded": self.store.loaded if self.store else 0,
            "executables_compiled": self.store.compiled if self.store else 0,
        }
