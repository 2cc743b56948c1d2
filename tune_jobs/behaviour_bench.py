"""`tabrl bench --behaviour`: do the example prompts come true on the Go1? A benchmark, not a test.

For each prompt: the offline proposer's three approaches, trained as a real job
(Tune trials fine-tuning the base policy, the videos, the behaviour reports),
then one row per approach: its command, what the robot did in plain words, time
upright, its main intent met or not, and per prompt how distinct the three are and
the job's wall time. Writes BEHAVIOUR.md and BEHAVIOUR.json beside it.

Targets (issue 15): every approach upright at least 90% of the 10 s, the three
distinct (`tabrl.behaviour.distinctness`), at least two of three meeting their
main intent. The library is judged on prompts of its own too (`OWN_PROMPTS`): it
reads prompts, it does not recognise the examples.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE_PROMPTS = (
    "Keep shaking your hips aloha dude!",
    "Do the robot dance from the 80s",
    "Pretend you're a happy puppy",
    "Walk like you're on the moon",
    "Breakdance with style",
)
OWN_PROMPTS = (
    "Spin like a top",
    "Sneak up on a cat",
    "Walk backwards like a moonwalker",
    "Wave hello to your friends",
    "Bounce like a kangaroo",
)
UPRIGHT_GOAL = 0.9


def run_behaviour_bench(out: Path, *, model: str = "Go1JoystickFlatTerrain", steps: int | None = None,
                        prompts: tuple[str, ...] = EXAMPLE_PROMPTS + OWN_PROMPTS,
                        size: tuple[int, int] = (320, 240), base_only: bool = False, demos: Path | None = None,
                        write_demo=None, log=print) -> dict:
    """`demos`: keep each trained job there as a ready-made demo, its job.json written by
    `write_demo` (`serve_app.demos.write_demo`: the API's format, which this layer does not import)."""
    from tabrl.catalog import base_policy_dir, get_model
    from tabrl.presets import preset_steps

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = base_policy_dir(model)
    steps = 0 if base_only else (steps or preset_steps("Standard", get_model(model).family,
                                                       fine_tune=base is not None))
    if demos is not None and write_demo is None:
        raise ValueError("demos needs write_demo to write each demo's job.json")
    jobs = base_only_jobs(model, prompts, log) if base_only else _trained_jobs(model, prompts, steps, size, log,
                                                                              demos, write_demo)
    return _write(out, model, steps, base, jobs, size)


def _trained_jobs(model: str, prompts, steps: int, size, log, demos: Path | None, write_demo) -> list[dict]:
    """Each prompt as a real job, trained as a ready-made demo (`tune_jobs.demos`):
    into `demos` when given (the committed demos are made this way), else a temporary folder."""
    from tabrl.rewards.proposers import propose_offline
    from tune_jobs.demos import train_demo
    from tune_jobs.batch import ensure_ray

    ensure_ray()
    root = Path(demos) if demos else Path(tempfile.mkdtemp(prefix="tabrl-behaviour-jobs-"))
    jobs = []
    for prompt in prompts:
        log(f"{prompt!r}: {steps:,} steps per approach...")
        proposal = propose_offline(model, prompt)
        started = time.monotonic()
        run = train_demo(model, prompt, steps, root, size=size, proposal=proposal)
        if write_demo is not None:
            write_demo(run)
        job_dir, view = run.folder, run.result.model_dump(mode="json")
        rows = []
        for approach, trial in zip(proposal.approaches, view["approaches"]):
            b = trial.get("behaviour") or {}
            intents = b.get("intents") or {}
            rows.append({
                "approach": approach.name, "command": approach.reward.controls_words(), "status": trial["status"],
                "words": b.get("words") or trial.get("error"),
                "upright": (b.get("report") or {}).get("upright_fraction"),
                "main_intent": intents.get("main_term"), "main_met": intents.get("main_met"),
                "intents": intents.get("sentence"),
            })
        distinct = view.get("distinctness")
        jobs.append({
            "prompt": prompt, "example": prompt in EXAMPLE_PROMPTS, "job": str(job_dir), "rows": rows,
            "distinct": distinct["distinct"] if distinct else None,
            "min_distance": round(distinct["minimum"], 2) if distinct else None,
            "wall_seconds": round(time.monotonic() - started, 1), "stages": view.get("stages", []),
        })
        log(f"  {jobs[-1]['wall_seconds']:.0f} s; distinct {jobs[-1]['distinct']} (min {jobs[-1]['min_distance']})")
        for row in rows:
            log(f"  - {row['approach']}: {row['words']} | main intent {row['main_intent']} met={row['main_met']}")
    return jobs


def _write(out: Path, model: str, steps: int, base, jobs: list[dict], size: tuple[int, int]) -> dict:
    record = {
        "size": f"{size[0]}x{size[1]}",
        "command": "tabrl bench --behaviour " + " ".join(shlex.quote(a) for a in sys.argv[3:]),
        "model": model, "steps": steps, "base_policy": str(base) if base else None,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs", "jobs": jobs,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for job in jobs:
        job["goal_met"] = bool(
            all(r["upright"] is not None and r["upright"] >= UPRIGHT_GOAL for r in job["rows"])
            and job["distinct"] and sum(bool(r["main_met"]) for r in job["rows"]) >= 2)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    out.write_text(behaviour_markdown(record))
    return record


def base_only_jobs(model: str, prompts: tuple[str, ...], log=print) -> list[dict]:
    """The same rows without training: the base policy rolled out under each approach's
    command for 10 s (what a fine-tune starts from). Minutes, not hours, on 2 cores."""
    import numpy as np

    from tabrl.behaviour import describe, distinctness, judge, plain_words, summarize
    from tabrl.catalog import base_policy_dir
    from tabrl.controls import CONTROLS_KEY, controls_of
    from tabrl.playground import family_by_model
    from tabrl.rewards.proposers import propose_offline
    from tabrl.rollout import collect
    from tabrl.training import PPOConfig, checkpoint_networks, load_params, policy_env, read_checkpoint_config

    base = base_policy_dir(model)
    if base is None:
        raise ValueError(f"{model} has no base policy")
    env = policy_env(model)
    networks, _ = checkpoint_networks(PPOConfig.model_validate(read_checkpoint_config(base)["ppo"]), env)
    params = load_params(base)
    steps, fps = int(round(10.0 / env.dt)), 1.0 / env.dt
    jobs = []
    for prompt in prompts:
        started = time.monotonic()
        approaches = propose_offline(model, prompt).approaches
        rows, reports = [], []
        for approach in approaches:
            data = collect(env, networks, params, num_envs=1, steps=steps, deterministic=True,
                           info={CONTROLS_KEY: controls_of(approach.reward)})
            states = {"qpos": data["qpos"][:, 0], "qvel": data["qvel"][:, 0],
                      "mocap_pos": np.zeros((steps, 0, 3)), "mocap_quat": np.zeros((steps, 0, 4))}
            report = describe(env.mj_model, states, fps, family_by_model()[model])
            summary = summarize(approach.reward, judge(approach.reward, report))
            reports.append(report)
            rows.append({"approach": approach.name, "command": approach.reward.controls_words(),
                         "status": "base only", "words": plain_words(report), "upright": report.upright_fraction,
                         "main_intent": summary.main_term, "main_met": summary.main_met,
                         "intents": summary.sentence})
        distinct = distinctness(reports)
        jobs.append({"prompt": prompt, "example": prompt in EXAMPLE_PROMPTS, "job": None, "rows": rows,
                     "distinct": distinct.distinct, "min_distance": round(distinct.minimum, 2),
                     "wall_seconds": round(time.monotonic() - started, 1), "stages": []})
        log(f"{prompt!r}: distinct {distinct.distinct} (min {distinct.minimum:.2f})")
    return jobs


def behaviour_markdown(record: dict) -> str:
    lines = [
        "# What the approaches did (behaviour benchmark)",
        "",
        f"`{record['command']}` on {record['machine']}, {record['date']}: {record['model']}, " + (
            "the base policy under each approach's command, no training (what a fine-tune starts from), "
            "10 s rollouts." if not record["steps"] else
            f"{record['steps']:,} steps per approach, fine-tuned from "
            f"{'the base policy' if record['base_policy'] else 'scratch'}, {record.get('size', '160x120')} "
            "videos, 10 s."),
        "Goal per prompt: all three upright >= 90% of the 10 s, the three distinct, at least two meeting "
        "their main intent (the rewarding term with the largest weight). Measured from each video's own "
        "rollout (`tabrl.behaviour`).",
        "",
        "| prompt | goal | upright >= 90% | distinct (closest pair) | main intents met | wall |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for job in record["jobs"]:
        upright = sum(r["upright"] is not None and r["upright"] >= UPRIGHT_GOAL for r in job["rows"])
        lines.append(f"| {job['prompt']} | {'met' if job['goal_met'] else 'NOT met'} | {upright} of "
                     f"{len(job['rows'])} | {'yes' if job['distinct'] else 'no'} ({job['min_distance']}) | "
                     f"{sum(bool(r['main_met']) for r in job['rows'])} of {len(job['rows'])} | "
                     f"{job['wall_seconds']:.0f} s |")
    lines.append("")
    for job in record["jobs"]:
        kind = "example prompt" if job["example"] else "own prompt"
        lines += [
            f"## {job['prompt']} ({kind})",
            "",
            f"Wall {job['wall_seconds']:.0f} s; distinct: {job['distinct']} (closest pair {job['min_distance']}); "
            f"goal {'met' if job['goal_met'] else 'NOT met'}.",
            "",
            "| approach | command; pose | what it did | upright | main intent | met |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in job["rows"]:
            upright = "-" if r["upright"] is None else f"{r['upright']:.0%}"
            lines.append(f"| {r['approach']} | {r['command']} | {r['words']} | {upright} | "
                         f"{r['main_intent'] or '-'} | {'yes' if r['main_met'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)
