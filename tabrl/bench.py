"""`tabrl bench`: TabRL against Brax PPO called directly, measured side by side.

One run on one machine writes BENCHMARKS.md (and the raw numbers as JSON):

- the peer: Brax PPO on the same Playground environment with the same PPO
  config and the environment's own reward, in a fresh process that imports
  Brax and Playground only (no Ray, no TabRL code on the training path, no
  persistent cache);
- TabRL: the same budget through `tabrl train` (Ray Tune, three spec rewards),
  twice against one fresh compilation cache: a first batch and a repeated one;
- TabRL's engine alone (`train_approach`, no Tune), for the reward wrapper's
  cost on throughput;
- rendering frames/s for Go1 and CartpoleBalance at the default video size;
- how wall time grows with num_steps and num_envs (peer runs).

Every figure is measured in this run; the machine's load average is recorded
before and after, because other work on a shared machine changes the numbers.
Each measured process is started on its own, one after another.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "CartpoleBalance"
DEFAULT_STEPS = 50_000
DEFAULT_PROMPT = "Swing the pole wildly but never let it fall"
RENDER_MODELS = ("Go1JoystickFlatTerrain", "CartpoleBalance")
SCALING = ((40_960, 32), (40_960, 128), (81_920, 32), (81_920, 128))
"""(num_steps, num_envs) of the scaling table: whole PPO iterations, 4 epochs each."""


# --- the peer: Brax directly ---------------------------------------------------------


def _peer_main(spec_json: str) -> None:
    """Runs in its own process: Brax PPO on Playground, nothing of TabRL's on the way.

    Prints one JSON line: wall, compile and training seconds, env-steps/s.
    """
    request = json.loads(spec_json)
    t0 = time.monotonic()
    import functools

    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import registry, wrapper

    overrides = {"impl": request["impl"]}
    env = registry.load(request["model"], config_overrides=overrides)
    config = dict(request["ppo"])
    net = config.pop("network")
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(net["policy_hidden_layer_sizes"]),
        value_hidden_layer_sizes=tuple(net["value_hidden_layer_sizes"]),
        policy_obs_key=net["policy_obs_key"],
        value_obs_key=net["value_obs_key"],
    )
    epochs: list[dict] = []
    started = time.monotonic()

    def progress(step: int, metrics: dict) -> None:
        epochs.append({"env_steps": int(step), "sps": float(metrics["training/sps"]),
                       "at": time.monotonic() - started})

    ppo.train(environment=env, wrap_env_fn=wrapper.wrap_for_brax_training, network_factory=network_factory,
              progress_fn=progress, run_evals=False, seed=0, **config)
    total = time.monotonic() - started
    pace = _steady(epochs)
    steps = epochs[-1]["env_steps"] if epochs else 0
    train = min(total, steps / pace) if pace else total
    print(json.dumps({"wall_seconds": time.monotonic() - t0, "train_call_seconds": total,
                      "compile_seconds": total - train, "train_seconds": train,
                      "env_steps": steps, "env_steps_per_second": pace, "epochs": epochs}))


def _steady(epochs: list[dict]) -> float | None:
    """The median pace of the epochs after the first (TrainResult's definition)."""
    paces = sorted(e["sps"] for e in epochs[1:])
    return paces[len(paces) // 2] if paces else None


def run_peer(model: str, ppo_config: dict, impl: str) -> dict:
    request = json.dumps({"model": model, "ppo": ppo_config, "impl": impl})
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tabrl.bench", "--peer", request], capture_output=True,
                          text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the peer run failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.monotonic() - started
    return result


# --- TabRL through `tabrl train` -----------------------------------------------------


def run_tabrl_batch(model: str, prompt: str, steps: int, out: Path, cache: Path) -> dict:
    """`tabrl train` in its own process; per trial, the run record its checkpoint keeps."""
    command = [sys.executable, "-m", "tabrl_cli", "train", "--model", model, "--prompt", prompt,
               "--steps", str(steps), "--no-base-policy", "--size", "160x120", "--seconds", "2",
               "--out", str(out), "--json"]
    env = {**os.environ, "TABRL_JAX_CACHE_DIR": str(cache)}
    for attempt in (1, 2):  # a busy shared machine can make Ray's start time out once
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        wall = time.monotonic() - started
        if done.returncode == 0 or "timed out during startup" not in done.stderr or attempt == 2:
            break
    if done.returncode != 0:
        raise RuntimeError(f"tabrl train failed: {done.stderr[-3000:]}")
    job = json.loads(done.stdout)
    trials = []
    for index, approach in enumerate(job["approaches"]):
        if approach["status"] != "succeeded":
            raise RuntimeError(f"approach {index} failed: {approach['error']}")
        meta = json.loads((Path(approach["checkpoint"]) / "config.json").read_text())
        trials.append({"name": approach["name"], "env_steps": approach["metrics"]["env_steps"], **meta["run"]})
    # "Trial 1" is the trial that compiled (it wrote the programs to the cache); the
    # others follow in the order they started. Tune starts them in any order.
    trials.sort(key=lambda t: (-t.get("executables_compiled", 0), -t["cache_misses"], t["started_at"]))
    first_start = min(t["started_at"] for t in trials)
    batch_train_wall = max(t["finished_at"] for t in trials) - first_start
    return {"command": shlex.join(["tabrl", *command[3:]]), "wall_seconds": wall,
            "training_wall_seconds": batch_train_wall, "trials": trials}


def run_engine(model: str, prompt: str, steps: int, out: Path, cache: Path) -> dict:
    """One approach through TabRL's engine in this process, no Tune."""
    from tabrl.rewards import propose
    from tabrl.training import train_approach

    spec = propose(model, prompt).approaches[0].reward
    result = train_approach(model, spec, num_steps=steps, out_dir=out, compile_cache=cache)
    return result.model_dump(exclude={"history"})


# --- rendering ------------------------------------------------------------------------


def render_fps(model: str, frames: int = 30, size: tuple[int, int] = (640, 480)) -> dict:
    """Frames/s of `render_states` on a zero-action rollout, with and without shadows."""
    import jax.numpy as jnp

    from tabrl.playground import family_by_model, load_env
    from tabrl.rendering import render_states, rollout_states

    env = load_env(model)
    states = rollout_states(env, lambda obs, key: jnp.zeros(env.action_size), frames / 30, 30)
    out = {}
    for fast in (False, True):
        started = time.monotonic()
        rendered = render_states(env.mj_model, states, family_by_model()[model], width=size[0], height=size[1],
                                 fast=fast)
        out["fast" if fast else "full"] = len(rendered) / (time.monotonic() - started)
    return out


# --- the report ------------------------------------------------------------------------


def machine() -> dict:
    import jax

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(), "jax": jax.__version__,
            "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarize(r: dict) -> dict:
    peer = r["peer"]
    first, again = r["batch1"]["trials"], r["batch2"]["trials"]
    aggregate = sum(t["env_steps_per_second"] for t in first if t["env_steps_per_second"])
    return {
        "engine_throughput": _ratio(r["engine"]["env_steps_per_second"], peer["env_steps_per_second"]),
        "batch_aggregate_throughput": _ratio(aggregate, peer["env_steps_per_second"]),
        "compile_trial2": _ratio(first[1]["compile_seconds"], first[0]["compile_seconds"]),
        "compile_trial3": _ratio(first[2]["compile_seconds"], first[0]["compile_seconds"]),
        "compile_repeat": _ratio(max(t["compile_seconds"] for t in again), first[0]["compile_seconds"]),
        "xla_trial2": _ratio(first[1]["xla_seconds"], first[0]["xla_seconds"]),
        "xla_trial3": _ratio(first[2]["xla_seconds"], first[0]["xla_seconds"]),
        "xla_repeat": _ratio(max(t["xla_seconds"] for t in again), first[0]["xla_seconds"]),
        "batch_wall_over_peer": _ratio(r["batch1"]["training_wall_seconds"], peer["train_call_seconds"]),
        "repeat_batch_wall_over_peer": _ratio(r["batch2"]["training_wall_seconds"], peer["train_call_seconds"]),
    }


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _goal(value: float | None, goal: str, ok: bool | None) -> str:
    verdict = "n/a" if ok is None else ("met" if ok else "NOT met")
    return f"{_f(value, 2)} | {goal} | {verdict}"


RATIO_ROWS = (
    ("TabRL engine env-steps/s over the peer's (one approach, spec reward, no Tune)", "engine_throughput", ">= 0.95"),
    ("batch: sum of the three trials' env-steps/s (running concurrently, Tune) over the peer's",
     "batch_aggregate_throughput", ">= 0.95"),
    ("compile seconds, trial 2 over trial 1 (first batch)", "compile_trial2", "<= 0.1"),
    ("compile seconds, trial 3 over trial 1 (first batch)", "compile_trial3", "<= 0.1"),
    ("compile seconds, slowest trial of the repeated batch over trial 1 of the first", "compile_repeat", "<= 0.1"),
    ("XLA compile seconds (compile or load from the cache), trial 2 over trial 1", "xla_trial2", "<= 0.1"),
    ("XLA compile seconds, trial 3 over trial 1", "xla_trial3", "<= 0.1"),
    ("XLA compile seconds, slowest trial of the repeated batch over trial 1 of the first", "xla_repeat", "<= 0.1"),
    ("training wall of a three-approach batch over one peer run, on this CPU", "batch_wall_over_peer",
     "<= 1.3 on a GPU"),
    ("the same for the repeated batch (compiled program cached)", "repeat_batch_wall_over_peer", "<= 1.3 on a GPU"),
)
"""(label, key in the ratios, goal): a goal "<op> <bound>" is judged here; one with more words
("on a GPU") is not measurable on this run and shows n/a."""


def _ratio_row(label: str, value: float | None, goal: str) -> str:
    op, bound, *elsewhere = goal.split()
    ok = None
    if value is not None and not elsewhere:
        ok = value >= float(bound) if op == ">=" else value <= float(bound)
    return f"| {label} | " + _goal(value, goal, ok) + " |"


def write_markdown(r: dict, path: Path) -> None:
    m, s, peer = r["machine"], r["ratios"], r["peer"]
    lines = [
        "# TabRL benchmarks",
        "",
        f"Measured {r['date']} by `{r['command']}` (code: `tabrl/bench.py`), in one run on one machine.",
        "",
        f"- Machine: {m['cores']} cores, {m['cpu']}; {m['platform']}; Python {m['python']}, "
        f"jax {m['jax']} on `{m['backend']}` ({', '.join(m['devices'])}).",
        f"- Load average (1, 5, 15 min) at start: {', '.join(f'{x:.2f}' for x in r['load_start'])}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in r['load_end'])}. The machine is shared: other "
        "work running at the same time slows every figure here; compare ratios from one run only.",
        f"- Model {r['model']}, budget {r['steps']:,} env steps per approach, PPO config "
        f"(`scaled_ppo_config`): num_envs {r['ppo']['num_envs']}, unroll {r['ppo']['unroll_length']}, "
        f"{r['ppo']['num_minibatches']} minibatches, {r['ppo']['num_evals'] - 1} epochs, "
        f"{r['ppo']['num_timesteps']:,} steps.",
        f"- Bench wall time: {r['bench_seconds']:.0f} s.",
        "",
        "Compile seconds are the training call's time beyond what its env steps take at the steady pace "
        "of the later epochs (the same definition for the peer and TabRL): tracing, lowering, XLA "
        "compiling and any slowness of the first epoch (say, while other trials compile on the same "
        "cores), plus Brax's own set-up before the first epoch (optimizer initialisation and "
        "bookkeeping: about 40 small eager programs). Tracing / lowering / XLA are JAX's own timings of "
        "those stages. The training programs (reset, training epoch, the networks' init) of trials 2 "
        "and 3 come ready-made from TabRL's executable store (`tabrl/training/executables.py`: no tracing, no "
        "lowering, no compile, loaded in the background while Brax sets up); the small programs from "
        "JAX's persistent cache (a load instead of an XLA compile, after tracing and lowering them). "
        "Env-steps/s is the median epoch pace after the first epoch.",
        "",
        "## Ratios",
        "",
        "| ratio | measured | goal | |",
        "| --- | --- | --- | --- |",
        *(_ratio_row(label, s[key], goal) for label, key, goal in RATIO_ROWS),
        "",
        ("No GPU was available to this run, so the GPU wall-time goal is not measured here; the CPU "
         "figure runs three approaches on the same cores as one approach, and is not that goal."
         if m["backend"] == "cpu" else f"Measured on `{m['backend']}`."),
        "",
        "## The peer: Brax PPO directly",
        "",
        "`ppo.train` on `mujoco_playground.registry.load(model, impl)` wrapped with "
        "`wrap_for_brax_training`, the environment's own reward, `run_evals=False`, same PPO config, "
        "a fresh process, no persistent cache.",
        "",
        "| wall (process) | train call | compile | training | env steps | env-steps/s |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {_f(peer['process_seconds'])} s | {_f(peer['train_call_seconds'])} s | "
        f"{_f(peer['compile_seconds'])} s | {_f(peer['train_seconds'])} s | {_f(peer['env_steps'])} | "
        f"{_f(peer['env_steps_per_second'], 0)} |",
        "",
        "## TabRL through `tabrl train` (Ray Tune, spec rewards)",
        "",
    ]
    for key, title in (("batch1", "First batch (empty compilation cache)"),
                       ("batch2", "Repeated batch (same cache, same model and budget)")):
        b = r[key]
        lines += [
            f"### {title}",
            "",
            f"`{b['command']}` with `TABRL_JAX_CACHE_DIR` set to one fresh folder for both batches: "
            f"{_f(b['wall_seconds'])} s for the whole command (Ray start, proposal, training, 2-s videos), "
            f"{_f(b['training_wall_seconds'])} s from the first trial's start to the last trial's end.",
            "",
            "| trial | approach | waited for the compile lock | compile | of which tracing / lowering / XLA | training | env-steps/s | training programs compiled / loaded ready-made | small programs compiled / from JAX's cache |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for i, t in enumerate(b["trials"]):
            lines.append(
                f"| {i + 1} | {t['name']} | {_f(t['lock_wait_seconds'])} s | {_f(t['compile_seconds'])} s | "
                f"{_f(t['trace_seconds'])} / {_f(t['lower_seconds'])} / {_f(t['xla_seconds'])} s | "
                f"{_f(t['train_seconds'])} s | {_f(t['env_steps_per_second'], 0)} | "
                f"{t.get('executables_compiled', 0)} / {t.get('executables_loaded', 0)} | "
                f"{t['cache_misses']} / {t['cache_hits']} |"
            )
        lines.append("")
    e = r["engine"]
    lines += [
        "## TabRL's engine alone",
        "",
        "`tabrl.training.train_approach` for the first approach, in the bench process, no Tune, "
        "with the batches' cache (so its compile is mostly loading).",
        "",
        "| wall | compile | of which tracing / lowering / XLA | training | env-steps/s | cache hits |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {_f(e['wall_seconds'])} s | {_f(e['compile_seconds'])} s | {_f(e['trace_seconds'])} / "
        f"{_f(e['lower_seconds'])} / {_f(e['xla_seconds'])} s | {_f(e['train_seconds'])} s | "
        f"{_f(e['env_steps_per_second'], 0)} | {e['cache_hits']} |",
        "",
        "## Rendering",
        "",
        "`tabrl.rendering.render_states` at 640x480 (the default video size), 30 frames of a zero-action "
        "rollout; `fast` turns shadows and reflections off (the CPU default for videos).",
        "",
        "| model | frames/s, full | frames/s, fast |",
        "| --- | --- | --- |",
    ]
    for model, fps in r["render"].items():
        if "error" in fps:
            lines.append(f"| {model} | not measured: {fps['error']} | |")
        else:
            lines.append(f"| {model} | {_f(fps['full'], 1)} | {_f(fps['fast'], 1)} |")
    lines += [
        "",
        "## Scaling (the peer, Brax directly)",
        "",
        "| num_steps | num_envs | env steps run | wall (process) | compile | training | env-steps/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in r["scaling"]:
        lines.append(
            f"| {row['num_steps']:,} | {row['num_envs']} | {_f(row['env_steps'])} | {_f(row['process_seconds'])} s | "
            f"{_f(row['compile_seconds'])} s | {_f(row['train_seconds'])} s | {_f(row['env_steps_per_second'], 0)} |"
        )
    lines += ["", f"Raw numbers: `{r['json']}`.", ""]
    from tabrl.bench_jobwall import history_tail

    tail = history_tail(path)  # `tabrl bench --job-wall`'s entries stay
    path.write_text("\n".join(lines) + ("\n" + tail if tail else ""))


def run_bench(out: Path, model: str = DEFAULT_MODEL, steps: int = DEFAULT_STEPS, prompt: str = DEFAULT_PROMPT,
              scaling: bool = True, log=print) -> dict:
    import jax

    from tabrl.playground import default_impl
    from tabrl.training import scaled_ppo_config

    started = time.monotonic()
    record: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "tabrl bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["bench"]
        else "tabrl bench",
        "load_start": list(os.getloadavg()),
        "machine": machine(),
        "model": model,
        "steps": steps,
    }
    accelerator = jax.default_backend() != "cpu"
    ppo_config = scaled_ppo_config(model, steps, accelerator=accelerator).model_dump(mode="json")
    record["ppo"] = ppo_config
    impl = default_impl()
    partial = Path(out).with_suffix(".partial.json")
    partial.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # what was measured so far survives a failure later on
        partial.write_text(json.dumps(record, indent=1))

    log(f"bench: the peer (Brax directly), {model}, {steps:,} steps...")
    record["peer"] = run_peer(model, ppo_config, impl)
    save()
    with tempfile.TemporaryDirectory(prefix="tabrl-bench-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "jax-cache"
        log("bench: tabrl train, first batch (empty cache)...")
        record["batch1"] = run_tabrl_batch(model, prompt, steps, tmp / "batch1", cache)
        save()
        log("bench: tabrl train, repeated batch...")
        record["batch2"] = run_tabrl_batch(model, prompt, steps, tmp / "batch2", cache)
        save()
        log("bench: TabRL's engine alone...")
        record["engine"] = run_engine(model, prompt, steps, tmp / "engine", cache)
        save()
    log("bench: rendering...")
    record["render"] = {}
    for render_model in RENDER_MODELS:
        try:
            record["render"][render_model] = render_fps(render_model)
        except Exception as error:  # e.g. Go1 without its meshes
            record["render"][render_model] = {"error": f"{type(error).__name__}: {error}"}
    record["scaling"] = []
    if scaling:
        for num_steps, num_envs in SCALING:
            log(f"bench: scaling, {num_steps:,} steps with {num_envs} envs...")
            config = dict(ppo_config, num_envs=num_envs, batch_size=num_envs, num_timesteps=num_steps, num_evals=5)
            row = run_peer(model, config, impl)
            record["scaling"].append({"num_steps": num_steps, "num_envs": num_envs, **row})
            save()
    record["load_end"] = list(os.getloadavg())
    record["bench_seconds"] = time.monotonic() - started
    record["ratios"] = summarize(record)
    out = Path(out)
    record["json"] = out.with_suffix(".json").name
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    write_markdown(record, out)
    partial.unlink(missing_ok=True)
    return record


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peer"]:
        _peer_main(sys.argv[2])
    else:
        sys.exit("usage: tabrl bench (this module's --peer mode is for tabrl bench itself)")
