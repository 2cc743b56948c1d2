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
config: 200M steps for Go1). Decision (session 3): on a GPU a base policy trains
with Playground's recipe as it is (`recipe_ppo_config`: for Go1 8192 envs, 32
minibatches of 256, 4 updates, unroll 20, 10 resets per evaluation), the config
Playground's own Go1 walking results come from. TabRL's `scaled_ppo_config`
keeps 4 minibatches, which would give about 16x fewer gradient steps per env
step than the recipe and make the 200M-step budget mean something else. On a CPU
the recipe's ~1M env steps per PPO iteration cannot run, so the default there
is the scaled config (smoke runs only); `recipe=` overrides either way.
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
             progress=None, compile_cache: Path | None = None, recipe: bool | None = None) -> dict:
    """Train `model_id` on its own reward into `out_dir`; returns the training record.

    `recipe`: train with Playground's PPO config as it is (default: on a GPU) rather
    than TabRL's budget-scaled one (default: on a CPU)."""
    import jax

    from tabrl.training import recipe_ppo_config, train_approach

    out_dir = Path(out_dir)
    steps = num_steps if num_steps is not None else recipe_steps(model_id)
    if recipe is None:
        recipe = jax.default_backend() != "cpu"
    config = recipe_ppo_config(model_id, steps) if recipe else None
    started = time.monotonic()
    result = train_approach(model_id, None, num_steps=steps, out_dir=out_dir, progress=progress,
                            seed=seed, compile_cache=compile_cache, config=config)
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
        "config": "Playground's recipe" if recipe else "TabRL's budget-scaled config",
        "ppo": meta["ppo"],
        "size_bytes": (out_dir / "params.msgpack").stat().st_size,
    }
    (out_dir / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record
