"""A trained policy on disk: `params.msgpack` and a self-describing `config.json`.

config.json records everything needed to rebuild the networks without the
environment: the PPO config (network sizes, normaliser), the observation and
action sizes (`networks`), the reward spec (with the approach's command and pose), how
many environment steps were trained, the progress history and how the run went.
Checkpoints written before `networks` was recorded still load: their sizes
come from the environment (`policy_env`).

Snapshots (`write_snapshot`) are checkpoints written while training runs, one
folder per snapshot, for resuming a run a restart cut off (`train_approach`'s
`resume_from`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tabrl.training.config import PPOConfig
from tabrl.training.networks import Sizes, checkpoint_networks
from tabrl.training.progress import Progress

CHECKPOINT_FORMAT = 2
"""2: policies observe the phase clock (two more inputs, `tabrl.controls`); format 1 cannot
be loaded. Fields added since (`networks`, `env_steps`) are optional when reading."""


def save_checkpoint(out_dir: Path, model_id: str, config: PPOConfig, params, spec, history,
                    run: dict | None = None, *, action_size: int | None = None, env_steps: int | None = None) -> Path:
    """params.msgpack (normalizer, policy, value) and config.json (everything to rebuild it,
    and `run`: how the run went: timings, cache hits). The networks' sizes are read off
    `params` (`action_size`, the environment's, is then only checked); `env_steps`: the
    steps trained, else the last report's."""
    from flax import serialization

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = serialization.to_state_dict(params)
    (out_dir / "params.msgpack").write_bytes(serialization.msgpack_serialize(state))
    sizes = _sizes_of(state)
    if sizes is not None and action_size is not None and sizes.action_size != action_size:
        raise ValueError(f"the policy acts on {sizes.action_size} numbers, the environment on {action_size}")
    meta = {
        "format": CHECKPOINT_FORMAT,
        "model_id": model_id,
        "ppo": config.model_dump(mode="json"),
        "networks": None if sizes is None else {
            "observation_size": sizes.observation_size,
            "action_size": sizes.action_size,
            "normalize_observations": config.normalize_observations,
            **config.network.model_dump(mode="json"),
        },
        "reward": spec.model_dump(mode="json") if spec is not None else None,
        "env_steps": env_steps if env_steps is not None else (history[-1].env_steps if history else 0),
        "history": [p.model_dump(mode="json") for p in history],
        "run": run or {},
        # An imported base policy has no value network (tabrl.base_policy): a fine-tune warms one up.
        "value_trained": not (run or {}).get("base_policy"),
    }
    (out_dir / "config.json").write_text(json.dumps(meta, indent=1))
    return out_dir


def _sizes_of(state: dict) -> Sizes | None:
    """The sizes of saved (normaliser, policy, value) parameters, without the environment
    (whose `observation_size` traces its reset): the observation from the normaliser's mean
    (Brax keeps one even when it does not normalise), the action from the policy's last
    layer (Brax's policies output a location and a scale per action)."""
    try:
        mean = state["0"]["mean"]
        observation = ({k: list(v.shape) for k, v in mean.items()} if isinstance(mean, dict)
                       else int(mean.shape[-1]))
        layers = state["1"]["params"]
        last = max(layers, key=lambda name: int(name.rsplit("_", 1)[-1]))
        return Sizes(observation, int(layers[last]["bias"].shape[-1]) // 2)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def read_checkpoint_config(checkpoint: Path) -> dict:
    path = Path(checkpoint) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{checkpoint} is not a TabRL checkpoint (no config.json)")
    meta = json.loads(path.read_text())
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{checkpoint}: unsupported checkpoint format {meta.get('format')!r} (this TabRL "
                         f"reads format {CHECKPOINT_FORMAT}; train the approach again)")
    return meta


def checkpoint_sizes(meta: dict) -> Sizes:
    """The networks' sizes a checkpoint records; for older checkpoints, its environment's."""
    recorded = meta.get("networks")
    if recorded:
        observation = recorded["observation_size"]
        if isinstance(observation, dict):
            observation = {k: tuple(v) for k, v in observation.items()}
        return Sizes(observation, int(recorded["action_size"]))
    env = policy_env(meta["model_id"])
    return Sizes(env.observation_size, env.action_size)


def policy_env(model_id: str, spec=None, *, hold_command: bool = True):
    """The environment a TabRL policy acts in: Playground's, with the approach's controls
    (`tabrl.controls`): its command held fixed (zero without a spec) and the phase observed."""
    from tabrl.controls import ControlledEnv, controls_of
    from tabrl.playground import load_env

    return ControlledEnv(load_env(model_id), controls_of(spec), hold_command=hold_command)


def load_params(checkpoint: Path, template=None):
    """The (normalizer, policy, value) parameters of a checkpoint, as Brax's types;
    `template` (from `checkpoint_networks`) saves rebuilding the networks."""
    from flax import serialization

    if template is None:
        meta = read_checkpoint_config(checkpoint)
        _, template = checkpoint_networks(PPOConfig.model_validate(meta["ppo"]), checkpoint_sizes(meta))
    state = serialization.msgpack_restore((Path(checkpoint) / "params.msgpack").read_bytes())
    return serialization.from_state_dict(template, state)


def load_policy(checkpoint: Path, deterministic: bool = True):
    """A jitted `policy(obs, key) -> action` and the checkpoint's metadata."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    meta = read_checkpoint_config(checkpoint)
    networks, template = checkpoint_networks(PPOConfig.model_validate(meta["ppo"]), checkpoint_sizes(meta))
    params = load_params(checkpoint, template)
    policy = ppo_networks.make_inference_fn(networks)(params[:2], deterministic=deterministic)
    return jax.jit(lambda obs, key: policy(obs, key)[0]), meta


# --- snapshots while training --------------------------------------------------------


def write_snapshot(snapshot_dir: Path, env_steps: int, **checkpoint) -> Path:
    """A complete checkpoint (`save_checkpoint(**checkpoint)`) of the run after `env_steps`
    steps, as `snapshot_dir/step-<env_steps>`. Written to a temporary folder and renamed,
    so a folder named `step-*` is always whole; the older snapshots are removed after it."""
    snapshot_dir = Path(snapshot_dir)
    final = snapshot_dir / f"step-{env_steps}"
    partial = snapshot_dir / f".step-{env_steps}.{os.getpid()}.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    save_checkpoint(partial, env_steps=env_steps, **checkpoint)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in snapshot_dir.glob("step-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_snapshot(path: Path) -> tuple[dict, tuple, int, list[Progress]]:
    """A snapshot's (metadata, parameters, environment steps done, progress history)."""
    meta = read_checkpoint_config(path)
    done = meta.get("env_steps")
    if done is None:
        raise ValueError(f"{path} records no env_steps: not a snapshot to resume from")
    history = [Progress.model_validate(p) for p in meta.get("history", [])]
    return meta, load_params(path), int(done), history
