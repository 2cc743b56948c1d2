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
                        size: tuple[int, int] = (160, 120), log=print) -> dict:
    from tabrl.catalog import base_policy_dir, get_model
    from tabrl.presets import preset_steps
    from tabrl.rewards.proposers import propose_offline
    from tune_jobs.batch import ensure_ray
    from tune_jobs.pipeline import new_job_id, train_and_render

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = base_policy_dir(model)
    steps = steps or preset_steps("Standard", get_model(model).family, fine_tune=base is not None)
    ensure_ray()
    jobs = []
    for prompt in prompts:
        log(f"{prompt!r}: {steps:,} steps per approach...")
        proposal = propose_offline(model, prompt)
        started = time.monotonic()
        job_dir = out.parent / "behaviour-jobs" / new_job_id()
        result = train_and_render(model, prompt, proposal.approaches, steps, job_dir, base_checkpoint=base,
                                  size=size)
        rows = []
        for approach, outcome in zip(proposal.approaches, result.approaches):
            b = outcome.behaviour
            summary = b.intents if b else None
            rows.append({
                "approach": approach.name,
                "command": approach.reward.command.describe() if approach.reward.command else "",
                "status": outcome.status,
                "words": b.words if b else outcome.error,
                "upright": b.report.upright_fraction if b else None,
                "main_intent": summary.main_term if summary else None,
                "main_met": summary.main_met if summary else None,
                "intents": summary.sentence if summary else None,
            })
        distinct = result.distinctness
        jobs.append({
            "prompt": prompt, "example": prompt in EXAMPLE_PROMPTS, "job": str(job_dir), "rows": rows,
            "distinct": distinct.distinct if distinct else None,
            "min_distance": round(distinct.minimum, 2) if distinct else None,
            "wall_seconds": round(time.monotonic() - started, 1),
            "stages": [s.model_dump() for s in result.stages],
        })
        log(f"  {jobs[-1]['wall_seconds']:.0f} s; distinct {jobs[-1]['distinct']} (min {jobs[-1]['min_distance']})")
        for row in rows:
            log(f"  - {row['approach']}: {row['words']} | main intent {row['main_intent']} met={row['main_met']}")
    record = {
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


def behaviour_markdown(record: dict) -> str:
    lines = [
        "# What the approaches did (behaviour benchmark)",
        "",
        f"`{record['command']}` on {record['machine']}, {record['date']}: {record['model']}, "
        f"{record['steps']:,} steps per approach, fine-tuned from "
        f"{'the base policy' if record['base_policy'] else 'scratch'}, 160x120 videos, 10 s.",
        "Goal per prompt: all three upright >= 90% of the 10 s, the three distinct, at least two meeting "
        "their main intent (the rewarding term with the largest weight). Measured from each video's own "
        "rollout (`tabrl.behaviour`).",
        "",
    ]
    for job in record["jobs"]:
        kind = "example prompt" if job["example"] else "own prompt"
        lines += [
            f"## {job['prompt']} ({kind})",
            "",
            f"Wall {job['wall_seconds']:.0f} s; distinct: {job['distinct']} (closest pair {job['min_distance']}); "
            f"goal {'met' if job['goal_met'] else 'NOT met'}.",
            "",
            "| approach | command | what it did | upright | main intent | met |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in job["rows"]:
            upright = "-" if r["upright"] is None else f"{r['upright']:.0%}"
            lines.append(f"| {r['approach']} | {r['command']} | {r['words']} | {upright} | "
                         f"{r['main_intent'] or '-'} | {'yes' if r['main_met'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)
