"""Compile a model's programs before its first job asks for them.

A job's trials run in new processes; what they need compiled (the training epoch,
the reset, the networks' init, Brax's small set-up programs, the critic warm-up of
a base policy) comes ready-made from the speed layer's stores on disk
(`tabrl.training.speed`) once any process on the machine compiled it. The video
rollout (`tabrl.policy_rollout`) is one program per model, kept by the process that
renders. `warm_training` runs one PPO round of the budget's config (its programs
are the full budget's: `train_approach(max_rounds=1)`) with the offline library's
first approach, from the base policy when the model has one, exactly as a job's
trial would; `warm_rendering` rolls the base (or zero actions) out in the shape a
job's render stage uses (three approaches and their three references).

`make up` warms the hero model at the UI's first preset while the page opens
(`TABRL_WARM`, read by the Serve app). A job started meanwhile loses nothing: its
first trial waits on the compile lock for the warm-up's program instead of
compiling its own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

WARM_PROMPT = "dance"
"""Any prompt does: the approaches of a model share one reward program."""
VIDEO_ROWS = 6
"""A job's rollout: three approaches and their three references, in one batched program."""


class WarmReport(BaseModel):
    model_id: str
    num_steps: int
    """The budget whose training programs were compiled."""
    training_seconds: float
    executables_compiled: int = 0
    executables_loaded: int = 0
    """Training programs compiled now, and found ready (a warm machine compiles none)."""
    program_key: str = ""
    """The training program's name in the stores (`tabrl.training.speed.program_digest`): a job's
    trials of this model and budget look it up."""
    trace_seconds: float = 0.0
    rendering_seconds: float | None = None


def warm_steps(model_id: str, preset: str = "Quick") -> int:
    """The budget of `preset` for this model, from its base policy when it has one (what the
    UI preselects)."""
    from tabrl.catalog import base_policy_dir
    from tabrl.playground import family_by_model
    from tabrl.presets import preset_steps

    return preset_steps(preset, family_by_model()[model_id], fine_tune=base_policy_dir(model_id) is not None)


def warm_training(model_id: str, num_steps: int, *, seed: int = 0) -> WarmReport:
    """One PPO round of a `num_steps` job's trial, with the speed layer on; returns what it compiled."""
    from tabrl.catalog import base_policy_dir
    from tabrl.rewards.proposers import propose_offline
    from tabrl.settings import compile_cache_dir
    from tabrl.training import check_num_steps, train_approach

    check_num_steps(num_steps)
    spec = propose_offline(model_id, WARM_PROMPT).approaches[0].reward
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tabrl-warm-") as out:
        result = train_approach(model_id, spec, num_steps=num_steps, out_dir=Path(out) / "checkpoint",
                                base_checkpoint=base_policy_dir(model_id), seed=seed,
                                compile_cache=compile_cache_dir(), max_rounds=1)
    return WarmReport(model_id=model_id, num_steps=num_steps, training_seconds=round(time.monotonic() - started, 2),
                      executables_compiled=result.executables_compiled or 0,
                      executables_loaded=result.executables_loaded or 0, program_key=result.program_key,
                      trace_seconds=result.trace_seconds or 0.0)


def warm_rendering(model_id: str, num_steps: int, *, seconds: float = 10.0, fps: int = 30, seed: int = 0) -> float:
    """Compile (or load) the model's video rollout in this process; returns the seconds it took.
    Rolls the base policy out, or, for a model without one, an untrained network shaped as a
    `num_steps` job's checkpoints are."""
    from tabrl.catalog import base_policy_dir
    from tabrl.policy_rollout import checkpoint_row, fresh_row, rollout_rows
    from tabrl.training import scaled_ppo_config

    started = time.monotonic()
    base = base_policy_dir(model_id)
    if base is not None:
        row = checkpoint_row(base)
    else:
        import jax

        config = scaled_ppo_config(model_id, num_steps, accelerator=jax.default_backend() != "cpu")
        row = fresh_row(model_id, config.model_dump(mode="json"))
    rollout_rows(model_id, [row] * VIDEO_ROWS, seconds=seconds, fps=fps, seed=seed)
    return round(time.monotonic() - started, 2)


__all__ = ["VIDEO_ROWS", "WarmReport", "warm_rendering", "warm_steps", "warm_training"]
