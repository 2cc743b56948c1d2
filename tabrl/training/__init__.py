"""Training one reward approach with Brax PPO on a Playground environment.

- `config`: every knob of a PPO run, and how a step budget becomes them;
- `loop`: `train_approach`, the training loop, read top to bottom;
- `progress`: what a run reports (per-epoch `Progress`, the final `TrainResult`);
- `networks`: Brax's PPO networks from a config and the sizes;
- `checkpoint`: a trained policy on disk, self-describing, and snapshots to resume from;
- `speed`: the opt-in speed layer (JAX's cache, the compile lock, the executable store);
- `executables`: the executable store;
- `internals`: every private Brax, JAX and Playground internal TabRL uses, version-guarded.
"""

from tabrl.training.checkpoint import (CHECKPOINT_FORMAT, checkpoint_sizes, load_params, load_policy,
                                       policy_env, read_checkpoint_config, read_snapshot, save_checkpoint,
                                       write_snapshot)
from tabrl.training.config import (MAX_STEPS, MIN_ITERATIONS, MIN_STEPS, NetworkConfig, PPOConfig, StepsError,
                                   check_num_steps, playground_recipe, recipe_ppo_config, remaining_config,
                                   scaled_ppo_config)
from tabrl.internals import replicate_on_brax_mesh
from tabrl.training.loop import train_approach
from tabrl.training.networks import Sizes, checkpoint_networks, network_factory
from tabrl.training.progress import (STATS_KEY, NonFiniteRewardError, Progress, TrainResult,
                                     episode_stats_wrapper)
from tabrl.training.speed import (CACHE_MAX_BYTES, CacheCounter, CompileLock, SpeedLayer,
                                  enable_compilation_cache, program_digest)

__all__ = [
    "CACHE_MAX_BYTES", "CHECKPOINT_FORMAT", "MAX_STEPS", "MIN_ITERATIONS", "MIN_STEPS", "STATS_KEY",
    "CacheCounter", "CompileLock", "NetworkConfig", "NonFiniteRewardError", "PPOConfig", "Progress", "Sizes",
    "SpeedLayer", "StepsError", "TrainResult", "check_num_steps", "checkpoint_networks", "checkpoint_sizes",
    "enable_compilation_cache", "episode_stats_wrapper", "load_params", "load_policy", "network_factory",
    "playground_recipe", "policy_env", "program_digest", "read_checkpoint_config", "read_snapshot",
    "recipe_ppo_config", "remaining_config", "replicate_on_brax_mesh", "save_checkpoint", "scaled_ppo_config",
    "train_approach", "write_snapshot",
]
