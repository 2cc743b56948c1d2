"""Base policies from MuJoCo Playground's published ONNX policies.

    tabrl import-policy --onnx go1_policy.onnx --model Go1JoystickFlatTerrain

Playground publishes trained Brax PPO policies as ONNX graphs (Apache-2.0). Each
holds the whole policy network: the observation normaliser (subtract the mean,
multiply by 1/std), three dense layers with swish, and a last dense layer to
2 x action outputs split into the action's loc (whose tanh is the deterministic
action) and its scale logits. That maps one to one onto Brax's PPO policy
parameters (`hidden_0` ... `hidden_3`, kernels stored (in, out) as Flax stores
them) and the normaliser's mean and std for the policy's observation key.

What the file does not hold, and what TabRL fills in:
* the phase entries TabRL appends to every observation (`tabrl.controls`): zero
  input weights (mean 0, std 1), so the base acts exactly as the file does;
* the value network: a fresh one, marked untrained; a fine-tune warms it up on
  rollouts of the base before PPO moves the policy (`tabrl.finetune`);
* normaliser statistics for the value network's observation
  (`privileged_state`): measured on rollouts of the base with the environment's
  own random commands;
* the normaliser's sample count, set to `NORMALISER_COUNT` so that a fine-tune's
  few thousand steps barely move statistics learned over 200M steps.

The graph is read with the `onnx` package and checked node by node: a file of
another shape is refused with what was expected. The conversion is checked by
evaluating the ONNX graph itself (`onnx.reference.ReferenceEvaluator`) and Brax's
deterministic policy on the same random observations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROVENANCE = "base_policy.json"
NORMALISER_COUNT = 100_000_000
PLAYGROUND_LICENSE = "Apache-2.0 (MuJoCo Playground, Google DeepMind)"
CHECK_TOLERANCE = 1e-5


class PolicyFileError(ValueError):
    """An ONNX file that is not a policy TabRL can convert for the model asked for."""


@dataclass(frozen=True)
class OnnxPolicy:
    """The numbers of a Playground ONNX policy graph."""

    mean: np.ndarray
    inv_std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (kernel (in, out), bias), the last gives 2 x actions

    @property
    def observation_size(self) -> int:
        return int(self.mean.shape[0])

    @property
    def action_size(self) -> int:
        return int(self.layers[-1][1].shape[0] // 2)

    @property
    def hidden_sizes(self) -> list[int]:
        return [int(b.shape[0]) for _, b in self.layers[:-1]]


EXPECTED_GRAPH = "obs -> Sub(mean) -> Mul(1/std) -> [Gemm -> Sigmoid -> Mul(x, sigmoid)] x N -> Gemm -> Split -> Tanh"


def read_onnx_policy(path: Path) -> OnnxPolicy:
    """Read and check a Playground ONNX policy; raises `PolicyFileError` for anything else."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as error:
        raise PolicyFileError(f"{path.name} is not a readable ONNX model ({type(error).__name__}: {error})") from None
    graph = model.graph
    weights = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in graph.initializer}
    nodes = list(graph.node)
    ops = [n.op_type for n in nodes]

    def refuse(why: str) -> PolicyFileError:
        return PolicyFileError(f"{path.name} is not a Playground policy graph ({why}); expected {EXPECTED_GRAPH}")

    if len(graph.input) != 1 or len(ops) < 7 or ops[:2] != ["Sub", "Mul"] or ops[-3:] != ["Gemm", "Split", "Tanh"]:
        raise refuse(f"operators {' '.join(ops[:12])}{' ...' if len(ops) > 12 else ''}")
    hidden = ops[2:-3]
    if len(hidden) % 3 or any(hidden[i:i + 3] != ["Gemm", "Sigmoid", "Mul"] for i in range(0, len(hidden), 3)):
        raise refuse("the hidden layers are not dense layers with swish")

    def weight(name: str) -> np.ndarray:
        if name not in weights:
            raise refuse(f"{name!r} is computed, not a stored weight")
        return weights[name]

    sub, mul = nodes[0], nodes[1]
    if sub.input[0] != graph.input[0].name or mul.input[0] != sub.output[0]:
        raise refuse("the normaliser does not read the observation")
    mean, inv_std = weight(sub.input[1]), weight(mul.input[1])
    layers, x = [], mul.output[0]
    for gemm in [n for n in nodes if n.op_type == "Gemm"]:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in gemm.attribute}
        if gemm.input[0] != x and not any(n.output[0] == gemm.input[0] for n in nodes if n.op_type == "Mul"):
            raise refuse("the layers are not a chain")
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise refuse("a dense layer with transA/alpha/beta")
        kernel = weight(gemm.input[1])
        layers.append((kernel.T if attrs.get("transB", 0) else kernel, weight(gemm.input[2])))
        x = gemm.output[0]
    sizes = [mean.shape[0]] + [b.shape[0] for _, b in layers]
    for (kernel, bias), n_in, n_out in zip(layers, sizes[:-1], sizes[1:]):
        if kernel.shape != (n_in, n_out) or bias.shape != (n_out,):
            raise refuse(f"layer shapes {kernel.shape} {bias.shape} do not chain")
    if inv_std.shape != mean.shape or sizes[-1] % 2:
        raise refuse("normaliser or output sizes")
    return OnnxPolicy(mean=mean, inv_std=inv_std, layers=layers)


def onnx_actions(path: Path, observations: np.ndarray) -> np.ndarray:
    """The ONNX graph's own output (the deterministic action), evaluated by onnx's reference
    evaluator one observation at a time (the graphs are exported for a batch of 1)."""
    from onnx.reference import ReferenceEvaluator

    session = ReferenceEvaluator(str(path))
    name = session.input_names[0]
    return np.concatenate([session.run(None, {name: obs[None].astype(np.float32)})[0] for obs in observations])


def base_ppo_config(model_id: str, policy: OnnxPolicy):
    """The checkpoint's PPO config: Playground's recipe, with the file's hidden sizes."""
    from tabrl.training import recipe_ppo_config

    config = recipe_ppo_config(model_id)
    network = config.network.model_copy(update={"policy_hidden_layer_sizes": policy.hidden_sizes})
    return config.model_copy(update={"network": network})


def brax_params(policy: OnnxPolicy, template, obs_key: str | None, extra_stats: dict | None = None):
    """Brax's (normaliser, policy, value) from the file's numbers, on `template`'s structure
    (the value network kept as initialised). The phase entries get mean 0, std 1 and zero weights."""
    import jax
    from brax.training import types as brax_types

    normaliser, policy_params, value_params = template
    pad = lambda a, n, value: np.concatenate([a, np.full(n, value, np.float32)])  # noqa: E731

    def stats(size_with_phase: int, mean: np.ndarray, std: np.ndarray):
        extra = size_with_phase - mean.shape[0]
        return pad(mean, extra, 0.0), pad(std, extra, 1.0)

    means, stds = {}, {}
    if isinstance(normaliser.mean, dict):
        for key in normaliser.mean:
            if key == obs_key:
                means[key], stds[key] = stats(normaliser.mean[key].shape[-1], policy.mean, 1.0 / policy.inv_std)
            else:
                mean, std = (extra_stats or {}).get(key, (np.zeros(0), np.zeros(0)))
                means[key], stds[key] = stats(normaliser.mean[key].shape[-1], np.asarray(mean), np.asarray(std))
    else:
        means, stds = stats(normaliser.mean.shape[-1], policy.mean, 1.0 / policy.inv_std)
    means, stds = (jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32), tree) for tree in (means, stds))
    summed = jax.tree_util.tree_map(lambda s: np.square(s) * NORMALISER_COUNT, stds)
    normaliser = normaliser.replace(
        count=brax_types.UInt64(hi=np.uint32(0), lo=np.uint32(NORMALISER_COUNT)),
        mean=means, std=stds, summed_variance=summed,
    )
    layers = {}
    first_in = policy_params["params"]["hidden_0"]["kernel"].shape[0]
    for i, (kernel, bias) in enumerate(policy.layers):
        if i == 0 and first_in > kernel.shape[0]:  # zero weights for the phase entries
            kernel = np.concatenate([kernel, np.zeros((first_in - kernel.shape[0], kernel.shape[1]), np.float32)])
        expected = policy_params["params"][f"hidden_{i}"]["kernel"].shape
        if kernel.shape != tuple(expected):
            raise PolicyFileError(f"layer {i} is {kernel.shape}; the model's policy network needs {tuple(expected)}")
        layers[f"hidden_{i}"] = {"kernel": kernel, "bias": bias}
    return normaliser, {"params": layers}, value_params


def import_policy(onnx_path: Path, model_id: str, out_dir: Path, *,
                  stats_envs: int = 32, stats_steps: int = 250, seed: int = 0) -> dict:
    """Convert a Playground ONNX policy for `model_id` into a TabRL checkpoint in `out_dir`
    (`tabrl import-policy` writes `tabrl/base_policies/<model_id>/`); returns the provenance record."""
    import jax

    from tabrl.playground import check_model_id, load_env
    from tabrl.training import checkpoint_networks, save_checkpoint
    from tabrl.controls import ControlledEnv, PHASE_SIZE

    check_model_id(model_id)
    onnx_path = Path(onnx_path)
    policy = read_onnx_policy(onnx_path)
    config = base_ppo_config(model_id, policy)
    obs_key = config.network.policy_obs_key
    raw_env = load_env(model_id)
    raw_size = raw_env.observation_size
    want = raw_size[obs_key][-1] if isinstance(raw_size, dict) else raw_size
    if policy.observation_size != want:
        raise PolicyFileError(
            f"{onnx_path.name} reads {policy.observation_size} observation entries; {model_id}'s "
            f"{obs_key!r} observation has {want}: this file is for another model"
        )
    if policy.action_size != raw_env.action_size:
        raise PolicyFileError(
            f"{onnx_path.name} gives {policy.action_size} actions; {model_id} takes {raw_env.action_size}"
        )
    env = ControlledEnv(raw_env, hold_command=False)
    networks, template = checkpoint_networks(config, env, seed=seed)
    params = brax_params(policy, template, obs_key if isinstance(raw_size, dict) else None)
    # Normaliser statistics for the other observation keys, from rollouts of the base.
    if isinstance(raw_size, dict) and len(raw_size) > 1:
        from tabrl.rollout import collect

        data = collect(env, networks, params, num_envs=stats_envs, steps=stats_steps, seed=seed,
                       deterministic=False)
        extra = {}
        for key, values in data["obs"].items():
            flat = np.asarray(values)[..., :-PHASE_SIZE].reshape(-1, values.shape[-1] - PHASE_SIZE)
            extra[key] = (flat.mean(axis=0), np.maximum(flat.std(axis=0), 1e-3))
        params = brax_params(policy, template, obs_key, extra_stats=extra)

    # The converter's own check: Brax's deterministic action against the ONNX graph.
    rng = np.random.default_rng(seed)
    # Observations like the ones the policy was trained on: its normaliser's mean and std.
    raw_obs = (policy.mean + rng.normal(size=(16, policy.observation_size)) / policy.inv_std).astype(np.float32)
    expected = onnx_actions(onnx_path, raw_obs)
    with_phase = np.concatenate([raw_obs, np.zeros((len(raw_obs), PHASE_SIZE), np.float32)], axis=1)
    obs = {k: np.zeros((len(raw_obs), size[-1]), np.float32) for k, size in env.observation_size.items()} \
        if isinstance(raw_size, dict) else with_phase
    if isinstance(obs, dict):
        obs[obs_key] = with_phase
    from brax.training.agents.ppo import networks as ppo_networks

    act = ppo_networks.make_inference_fn(networks)(params[:2], deterministic=True)
    actual = np.asarray(jax.jit(act)(obs, jax.random.PRNGKey(0))[0])
    difference = float(np.max(np.abs(actual - expected)))
    if not difference <= CHECK_TOLERANCE:
        raise PolicyFileError(f"conversion check failed: max abs difference {difference:.2e} > {CHECK_TOLERANCE}")

    out_dir = Path(out_dir)
    record = {
        "model_id": model_id,
        "source": onnx_path.name,
        "source_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "origin": "MuJoCo Playground's published policies (mujoco_playground/experimental/sim2sim/onnx/)",
        "license": PLAYGROUND_LICENSE,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "check": {"max_abs_difference": difference, "observations": len(raw_obs),
                  "against": "the ONNX graph evaluated by onnx.reference.ReferenceEvaluator"},
        "value_network": "untrained (not in the file): a fine-tune warms it up first",
        "normaliser": f"the file's for {obs_key!r}; the other keys measured on {stats_envs}x{stats_steps} "
                      "steps of the base; phase entries mean 0, std 1, zero weights",
    }
    save_checkpoint(out_dir, model_id, config, params, None, [], {"base_policy": record})
    (out_dir / PROVENANCE).write_text(json.dumps(record, indent=1) + "\n")
    return record


def base_policy_source(checkpoint: Path) -> str | None:
    """Where a base policy came from, in a few words for the catalog's badge."""
    path = Path(checkpoint) / PROVENANCE
    if path.is_file():
        record = json.loads(path.read_text())
        return f"Playground's published policy ({record['source']}, {record['license'].split(' ')[0]})"
    if (Path(checkpoint) / "training.json").is_file():
        return "trained by TabRL (tabrl pretrain)"
    return None
