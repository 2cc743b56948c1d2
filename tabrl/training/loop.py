"""`train_approach`: one reward approach, trained with Brax PPO on a Playground environment.

Read it top to bottom: where training starts (afresh, from a base policy, or from
a snapshot), the environment, Brax's `ppo.train` with one callback before each
epoch and one after, the checkpoint. With `compile_cache` set, the speed layer
(`tabrl.training.speed`) wraps the `ppo.train` call: it changes how soon the
program is ready, never what it computes.

The reward's numbers and the approach's controls travel in the environment
state, so the reset and the training epoch are one program for every approach
of a family; they go into the reset state before the first epoch
(`before_epoch`), which reads the state out of Brax's frame
(`internals.brax_env_state`; why no supported hook does this: `internals`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from tabrl.training.checkpoint import load_params, read_checkpoint_config, read_snapshot, save_checkpoint, write_snapshot
from tabrl.training.config import PPOConfig, remaining_config, scaled_ppo_config
from tabrl.internals import brax_env_state, no_eval_env, replicate_on_brax_mesh
from tabrl.training.networks import checkpoint_networks, network_factory
from tabrl.training.progress import (EpisodeTotals, Progress, TrainResult, check_finite, episode_stats_wrapper,
                                     progress_from)
from tabrl.training.speed import CacheCounter, SpeedLayer, program_digest


def train_approach(
    model_id: str,
    spec=None,
    *,
    num_steps: int,
    out_dir: Path,
    progress: Callable[[Progress], None] | None = None,
    base_checkpoint: Path | None = None,
    seed: int = 0,
    accelerator: bool | None = None,
    compile_cache: Path | None = None,
    config: PPOConfig | None = None,
    snapshot: Callable[[int, Path], None] | None = None,
    snapshot_dir: Path | None = None,
    snapshot_every_s: float = 30.0,
    resume_from: Path | None = None,
    max_rounds: int | None = None,
) -> TrainResult:
    """Train one approach with Brax PPO and write its checkpoint to `out_dir`.

    `spec` is a `tabrl.rewards.spec.RewardSpec`; None trains on the environment's
    own reward. `progress` gets a `Progress` after every epoch. `base_checkpoint`:
    start from that policy (a base whose value network was never trained gets one
    warmed up first). `compile_cache` turns on the speed layer in that folder.
    `config` replaces `scaled_ppo_config(model_id, num_steps, accelerator)`
    (`num_steps` is then only the progress bar's total). Raises
    `NonFiniteRewardError` as soon as a reported reward is NaN or infinite.

    Snapshots, for resuming after a restart: with `snapshot_dir`, after an epoch
    (not the last) and at most every `snapshot_every_s` seconds, a complete
    checkpoint of the run so far, recording its `env_steps` and its progress
    history, is written to `snapshot_dir/step-<env_steps>` (atomically: a folder
    named so is always whole; the older snapshots are then removed), and
    `snapshot(env_steps, path)` is called when given.

    `resume_from`: such a snapshot (it wins over `base_checkpoint`). Its policy,
    value and normaliser parameters are restored (the optimiser starts afresh), its
    PPO config is used (`config`, when given, must equal it), and only the epochs
    left are trained, with the seed moved on by the steps done so the environments
    do not replay the first episodes. `Progress.env_steps`, `elapsed_seconds`, the
    history and `TrainResult.env_steps` continue from the snapshot's. The epochs
    are as long as before, so the training program is the same one (same
    `program_key`, the speed layer's caches still serve it).

    `max_rounds`: stop after that many PPO rounds (epochs) of the budget's config, its
    programs the full budget's: what `tabrl.warm` runs to have them compiled ahead of a job.
    """
    import jax
    from brax.training.agents.ppo import train as ppo

    wall_started, wall_started_at = time.monotonic(), time.time()
    if accelerator is None:
        accelerator = jax.default_backend() != "cpu"
    if snapshot is not None and snapshot_dir is None:
        raise ValueError("snapshot needs a snapshot_dir to write the snapshots into")

    # Where training starts: afresh, from a base policy, or from a snapshot.
    restore, done, history, resumed = None, 0, [], {}
    if resume_from is not None:
        resumed, restore, done, history = read_snapshot(resume_from)
        config = _check_resumable(resumed, model_id, spec, config)
    if config is None:
        config = scaled_ppo_config(model_id, num_steps, accelerator=accelerator)
    training = _training_env(model_id, spec)
    digest = program_digest(model_id, config, training.reward_key)
    speed = SpeedLayer(compile_cache, digest)
    warm_up, critic_seconds = resumed.get("run", {}).get("critic_warm_up"), 0.0
    if restore is None and base_checkpoint:
        restore = load_params(base_checkpoint)
        if not read_checkpoint_config(base_checkpoint).get("value_trained", True):
            restore, warm_up = _warm_up_critic(training, config, restore, spec, seed, speed)
            critic_seconds = warm_up["seconds"]
    base = resumed.get("run", {}).get("base_checkpoint") if resumed else base_checkpoint
    run_config = remaining_config(config, done) if done else config
    if max_rounds is not None and max_rounds < run_config.rounds:
        run_config = remaining_config(config, done + (run_config.rounds - max_rounds) * config.steps_per_round)

    totals = EpisodeTotals(training.metric_names)
    term_names = set(training.metric_names.values()) if spec is not None else None
    elapsed_before = history[-1].elapsed_seconds if history else 0.0
    resumed_reports = len(history)
    state = {"filled": False, "params": restore, "rounds": 0, "snapshot_at": time.monotonic()}

    def before_epoch(step: int, make_policy, params) -> None:
        """Brax calls this after the reset and after every epoch: the first time, the reward's
        numbers and the controls go into the reset state's placeholders."""
        state["params"] = params
        if spec is None or state["filled"]:
            return
        from tabrl.controls import fill_controls
        from tabrl.rewards.wrapper import fill_params

        env_state = brax_env_state()
        if env_state is None:
            raise RuntimeError("could not find Brax's environment state to give it the reward's numbers")
        fill_params(env_state, training.env.params)
        fill_controls(env_state, training.controls)
        state["filled"] = True

    def after_epoch(step: int, metrics: dict) -> None:
        """Brax calls this after every epoch: report, check, and now and then snapshot."""
        speed.compiled()  # the first epoch ran: its program is in the caches
        episode = totals.update(brax_env_state())
        elapsed = elapsed_before + time.monotonic() - started
        report = progress_from({**episode, **metrics}, done + int(step), num_steps, elapsed, term_names)
        history.append(report)
        check_finite(report)
        if progress is not None:
            progress(report)
        state["rounds"] += 1
        if (snapshot_dir is None or state["rounds"] >= run_config.rounds
                or time.monotonic() - state["snapshot_at"] < snapshot_every_s):
            return
        path = write_snapshot(snapshot_dir, report.env_steps, model_id=model_id, config=config,
                              params=state["params"], spec=spec, history=history,
                              action_size=training.env.action_size,
                              run={"snapshot": True, "seed": seed, "base_checkpoint": _text(base),
                                   "critic_warm_up": warm_up})
        state["snapshot_at"] = time.monotonic()
        if snapshot is not None:
            snapshot(report.env_steps, path)

    with CacheCounter() as cache, replicate_on_brax_mesh(), speed.around_training(training.playground):
        started = time.monotonic()  # waiting for another process's compile is not this run's time
        params = restore
        if run_config.num_timesteps > 0:
            _, params, _ = ppo.train(
                environment=training.env,
                wrap_env_fn=episode_stats_wrapper(training.term_metrics),
                network_factory=network_factory(config),
                progress_fn=after_epoch,
                policy_params_fn=before_epoch,
                eval_env=no_eval_env(training.env),
                num_eval_envs=1,
                run_evals=False,
                log_training_metrics=False,
                restore_params=restore,
                seed=(seed + done) % 2**31 if done else seed,
                **run_config.model_dump(exclude={"network"}),
            )
    total_seconds = time.monotonic() - started

    # Compiling happens before the first epoch reports; the time beyond what this run's
    # steps take at the steady pace of its later epochs is reported as compile time.
    reports = history[resumed_reports:]
    paces = sorted(p.env_steps_per_second for p in reports[1:] if p.env_steps_per_second)
    sps = paces[len(paces) // 2] if paces else None
    steps_run = reports[-1].env_steps - done if reports else 0
    train_seconds = min(total_seconds, steps_run / sps) if sps else total_seconds
    last = history[-1] if history else None
    run = {
        "compile_seconds": round(total_seconds - train_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "env_steps_per_second": sps,
        **speed.report(),
        "cache_hits": cache.hits,
        "cache_misses": cache.misses,
        "program_key": digest,
        "trace_seconds": round(cache.seconds["trace"], 2),
        "lower_seconds": round(cache.seconds["lower"], 2),
        "xla_seconds": round(cache.seconds["xla"], 2),
        "critic_warm_up": warm_up,
        "base_checkpoint": _text(base),
        "resumed_from": _text(resume_from),
        "resumed_at_env_steps": done if resume_from is not None else None,
        "pid": os.getpid(),  # which process trained it (a warm worker trains one job after another)
        "started_at": wall_started_at,
        "training_started_at": wall_started_at + (started - wall_started),
        "finished_at": time.time(),
    }
    env_steps = last.env_steps if last else done
    checkpoint = save_checkpoint(out_dir, model_id, config, params, spec, history, run,
                                 action_size=training.env.action_size, env_steps=env_steps)
    return TrainResult(
        checkpoint=str(checkpoint),
        env_steps=env_steps,
        final_reward=last.episode_reward if last else None,
        reward_per_step=last.reward_per_step if last else None,
        history=history,
        wall_seconds=round(time.monotonic() - wall_started, 2),
        critic_seconds=critic_seconds,
        **{k: run[k] for k in ("compile_seconds", "train_seconds", "env_steps_per_second", "lock_wait_seconds",
                               "cache_hits", "cache_misses", "program_key", "trace_seconds", "lower_seconds",
                               "xla_seconds", "executables_loaded", "executables_compiled")},
    )


class TrainingEnv(NamedTuple):
    env: Any
    """What Brax trains on: Playground's environment, the controls, the reward (if a spec)."""
    playground: Any
    """Playground's own environment (the executable store fingerprints it)."""
    controls: dict
    reward_key: Any
    """What the reward program depends on (`RewardProgram.key`)."""
    term_metrics: tuple[str, ...]
    """The on-device metrics `EpisodeStatsWrapper` sums: every canonical position, used or not,
    so the program is the same for every spec."""
    metric_names: dict[str, str]
    """On-device metric -> the spec's term name."""


def _training_env(model_id: str, spec) -> TrainingEnv:
    """The approach's command held fixed and the phase observed (`tabrl.controls`); a run on
    the environment's own reward (a base policy) keeps the environment's random commands.
    With a spec, its reward with the numbers in the state (`SharedProgramRewardEnv`)."""
    from tabrl.controls import ControlledEnv, controls_of
    from tabrl.playground import load_env

    playground = load_env(model_id)
    controls = controls_of(spec)
    env = ControlledEnv(playground, controls, placeholder=spec is not None, hold_command=spec is not None)
    if spec is None:
        return TrainingEnv(env, playground, controls, "environment reward", (), {})
    from tabrl.rewards.wrapper import SharedProgramRewardEnv

    env = SharedProgramRewardEnv(env, spec, placeholder_params=True)
    return TrainingEnv(env, playground, controls, env.program.key,
                       tuple(f"reward/{n}" for n in env.position_names), dict(env.metric_names))


def _check_resumable(meta: dict, model_id: str, spec, config: PPOConfig | None) -> PPOConfig:
    """The snapshot's PPO config, after checking the snapshot is of this approach."""
    saved = PPOConfig.model_validate(meta["ppo"])
    reward = spec.model_dump(mode="json") if spec is not None else None
    if meta["model_id"] != model_id or meta.get("reward") != reward:
        raise ValueError(f"the snapshot is of another approach ({meta['model_id']}, reward "
                         f"{'the same' if meta.get('reward') == reward else 'different'}); cannot resume it")
    if config is not None and config != saved:
        raise ValueError("resume_from: the snapshot was trained with another PPO config")
    return saved


def _warm_up_critic(training: TrainingEnv, config: PPOConfig, restore, spec, seed: int, speed: SpeedLayer):
    """`tabrl.finetune.warm_up_critic` for this run's environment and approach; with the
    speed layer on, its programs come from the executable store, the first trial building
    them while the others wait (`SpeedLayer.around_critic_warm_up`)."""
    import inspect

    from tabrl.controls import CONTROLS_KEY
    from tabrl.finetune import warm_up_critic

    info = {CONTROLS_KEY: training.controls}
    if spec is not None:
        from tabrl.rewards.wrapper import PARAMS_KEY

        info[PARAMS_KEY] = training.env.params
    networks, _ = checkpoint_networks(config, training.env)
    settings = {name: parameter.default for name, parameter in inspect.signature(warm_up_critic).parameters.items()
                if parameter.default is not inspect.Parameter.empty and name not in ("info", "jit", "seed")}
    settings.update(discounting=config.discounting, reward_scaling=config.reward_scaling)
    started = time.monotonic()
    with speed.around_critic_warm_up(training.playground, settings) as jit:
        restore, report = warm_up_critic(training.env, networks, restore, info=info, jit=jit, seed=seed, **settings)
    report["seconds"] = round(time.monotonic() - started, 2)
    report["lock_wait_seconds"] = round(speed.critic_waited_seconds, 2)
    return restore, report


def _text(path) -> str | None:
    return str(path) if path else None
