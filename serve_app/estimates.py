"""Time estimates from throughput measured on this cluster (the `throughput` rows of the job store).

A batch's PPO run for `num_steps` uses `scaled_ppo_config`'s env count and
step total; the estimate takes the finished trials of the same model and
accelerator kind whose env count is nearest, and adds the stages a job's wall
is made of (`tabrl.stages`): their median start seconds (Ray, the trial
processes, a base policy's critic warm-up), compile seconds, `steps / median
env-steps/s`, and their median render seconds.
Trials run concurrently in a batch, so the measured pace already includes
their sharing of the machine. With no measurement yet, the estimate says so
(`seconds` is null) instead of guessing.
"""

from __future__ import annotations

import math
import statistics

from serve_app.schemas import Estimate
from serve_app.store import Measurement


def estimate(measurements: list[Measurement], num_envs: int, env_steps: int) -> Estimate:
    if not measurements:
        return Estimate(seconds=None, measured_trials=0,
                        basis="not measured on this cluster yet: the first batch of this model measures it")
    distance = min(abs(math.log2(m.num_envs / num_envs)) for m in measurements)
    nearest = [m for m in measurements if abs(math.log2(m.num_envs / num_envs)) == distance]
    pace = statistics.median(m.env_steps_per_second for m in nearest)
    compile_seconds = statistics.median(m.compile_seconds for m in nearest)
    renders = [m.render_seconds for m in nearest if m.render_seconds is not None]
    render_seconds = statistics.median(renders) if renders else 0.0
    starts = [m.start_seconds for m in nearest if m.start_seconds is not None]
    start_seconds = statistics.median(starts) if starts else 0.0
    train_seconds = env_steps / pace
    envs = {m.num_envs for m in nearest}
    same = num_envs in envs
    basis = (
        f"measured on {len(nearest)} finished trial(s) of this model on this cluster"
        + ("" if same else f" with {sorted(envs)[0]} parallel environments (this budget uses {num_envs})")
    )
    return Estimate(
        seconds=round(start_seconds + compile_seconds + train_seconds + render_seconds, 1),
        start_seconds=round(start_seconds, 1) if starts else None,
        compile_seconds=round(compile_seconds, 1),
        train_seconds=round(train_seconds, 1),
        render_seconds=round(render_seconds, 1),
        env_steps_per_second=round(pace, 1),
        measured_trials=len(nearest),
        basis=basis,
    )
