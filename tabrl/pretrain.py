"""Base policies: a model's own task (Playground's reward), trained once, fine-tuned from later.

    tabrl pretrain --model Go1JoystickFlatTerrain            # the full recipe, on a GPU
    tabrl pretrain --model CartpoleBalance --steps 5000 --out /tmp/base   # a smoke run

A base policy is an ordinary TabRL checkpoint (`params.msgpack`: observation
normalizer, policy and value networks; `config.json`: the PPO config) trained on
the environment's own reward (`train_approach(model_id, None, ...)`; for Go1 that
is Playground's joystick walking reward), plus `training.json`, the record of
the run: steps, seconds, final reward, date, device. Committed under
`tabrl/base_policies/<model id>/`, the catalog shows the model's base-policy
badge and `tabrl train` / the API's `use_base_policy` fine-tune from it.

The default budget is the recipe's own (`num_timesteps` of Playground's PPO
config: 200M steps for Go1). On a GPU `train_approach` keeps the recipe's
`num_envs` (`scaled_ppo_config(..., accelerator=True)`); on a CPU it is capped
at 256, which is fine for smoke runs and far too slow for a real base policy.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

RECORD = "training.json"


def recipe_steps(model_id: str) -> int:
    """Playground's own training budget for this model."""
    from tabrl.training import playground_recipe

    return int(playground_recipe(model_id)["num_timesteps"])


def device_description() -> str:
    import jax

    device = jax.devices()[0]
    return f"{jax.default_backend()}: {getattr(device, 'device_kind', str(device))} x{jax.device_count()}"


def pretrain(model_id: str, out_dir: Path, num_steps: int | None = None, *, seed: int = 0,
             progress=None, compile_cache: Path | None = None) -> dict:
    """Train `model_id` on its own reward into `out_dir`; returns the training record."""
    from tabrl.training import train_approach

    out_dir = Path(out_dir)
    steps = num_steps if num_steps is not None else recipe_steps(model_id)
    started = time.monotonic()
    result = train_approach(model_id, None, num_steps=steps, out_dir=out_dir, progress=progress,
                            seed=seed, compile_cache=compile_cache)
    meta = json.loads((out_dir / "config.json").read_text())
    record = {
        "model_id": model_id,
        "reward": "environment (Playground's own task reward)",
        "requested_steps": steps,
        "env_steps": result.env_steps,
        "seconds": round(time.monotonic() - started, 1),
        "compile_seconds": result.compile_seconds,
        "env_steps_per_second": result.env_steps_per_second,
        "final_reward": result.final_reward,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device_description(),
        "seed": seed,
        "ppo": meta["ppo"],
        "size_bytes": (out_dir / "params.msgpack").stat().st_size,
    }
    (out_dir / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record
