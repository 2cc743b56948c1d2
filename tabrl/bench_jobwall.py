"""`tabrl bench --job-wall`: what a person waits for, from command to composite, stage by stage.

One run, each job a `tabrl train --json` process of its own on the idle machine:

1. the hero job in a fresh data folder (empty compile cache and executable store);
2. a second job on the same model with another prompt (the caches warm);
3. in another fresh data folder, `tabrl warm` (what `make up` has the server do while the
   page opens), then the hero job.

Each job's stages come from its own record (`tabrl.stages`: start, propose, compile,
train, render, composite), the wall from the process. The table is appended to the
"job wall" history at the end of BENCHMARKS.md (`HISTORY_MARKER`); earlier entries
stay, so the file shows before and after. Issue 17's targets: at most 200 s fresh,
at most 90 s for the second job, learning at least half of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERO_MODEL = "Go1JoystickFlatTerrain"
PROMPTS = ("Keep shaking your hips aloha dude!", "Pretend you're a happy puppy")
HISTORY_MARKER = "<!-- job-wall history: `tabrl bench --job-wall` appends below; keep this line -->"
STAGES = ("propose", "start", "compile", "train", "render", "composite")
TARGETS = {"fresh": 200.0, "second": 90.0}


def _run(command: list[str], data_dir: Path) -> tuple[dict, float]:
    env = {**os.environ, "TABRL_DATA_DIR": str(data_dir)}
    env.pop("TABRL_JAX_CACHE_DIR", None)  # the data folder's own cache
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tabrl_cli", *command, "--json"], capture_output=True, text=True,
                          env=env, timeout=3600)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"tabrl {command[0]} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout), wall


def _job(model: str, prompt: str, steps: int, size: str, seconds: float, data_dir: Path,
         keep: Path | None = None) -> dict:
    job, wall = _run(["train", "--model", model, "--prompt", prompt, "--steps", str(steps), "--size", size,
                      "--seconds", f"{seconds:g}", "--out", str(data_dir / "jobs" / f"job-{time.time_ns()}")],
                     data_dir)
    failed = [a["error"] for a in job["approaches"] if a["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"approaches failed: {failed}")
    stages = {s["name"]: s["seconds"] for s in job["stages"]}
    if keep is not None and job.get("composite"):  # the videos to look at, after the data folder is gone
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(job["composite"], keep)
    return {"prompt": prompt, "wall_seconds": round(wall, 1), "job_seconds": job["seconds"], "stages": stages}


def run_job_wall(out: Path, *, model: str = HERO_MODEL, steps: int = 60_000, size: str = "160x120",
                 seconds: float = 10.0, videos: Path | None = None, log=print) -> dict:
    """`videos`: a folder to keep each job's composite in (`fresh.mp4`, `second.mp4`, `after-warm.mp4`)."""
    record: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "model": model, "steps": steps, "size": size,
                    "seconds": seconds, "load_start": list(os.getloadavg()), "jobs": {}}
    with tempfile.TemporaryDirectory(prefix="tabrl-jobwall-") as tmp:
        fresh, warmed = Path(tmp) / "fresh", Path(tmp) / "warmed"
        log(f"job wall: the hero job, fresh data folder ({model}, {steps:,} steps)...")
        keep = (lambda name: videos / f"{name}.mp4") if videos else (lambda name: None)
        record["jobs"]["fresh"] = _job(model, PROMPTS[0], steps, size, seconds, fresh, keep("fresh"))
        log("job wall: a second job on the same model...")
        record["jobs"]["second"] = _job(model, PROMPTS[1], steps, size, seconds, fresh, keep("second"))
        log("job wall: tabrl warm in another fresh data folder, then the hero job...")
        report, wall = _run(["warm", "--model", model, "--steps", str(steps), "--seconds", f"{seconds:g}"], warmed)
        record["warm"] = {**report, "wall_seconds": round(wall, 1)}
        record["jobs"]["after warm"] = _job(model, PROMPTS[0], steps, size, seconds, warmed, keep("after-warm"))
    record["load_end"] = list(os.getloadavg())
    out = Path(out)
    out.with_suffix(".jobwall.json").write_text(json.dumps(record, indent=1) + "\n")
    append_history(out, markdown(record))
    return record


def markdown(record: dict) -> str:
    jobs = record["jobs"]
    names = list(jobs)
    lines = [
        f"### {record['date']}: {record['model']}, {record['steps']:,} steps, {record['size']} "
        f"{record['seconds']:g}-s videos",
        "",
        "```bash",
        f"tabrl bench --job-wall --model {record['model']} --steps {record['steps']}",
        "```",
        "",
        f"Load average before / after: {record['load_start'][0]:.1f} / {record['load_end'][0]:.1f}. "
        f"`tabrl warm` before the last job: {record['warm']['wall_seconds']:.0f} s "
        f"({record['warm']['executables_compiled']} training programs compiled).",
        "",
        "| stage (s) | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for stage in STAGES:
        lines.append(f"| {stage} | " + " | ".join(f"{jobs[n]['stages'].get(stage, 0):.1f}" for n in names) + " |")
    lines.append("| job / process wall | " + " | ".join(
        f"{jobs[n]['job_seconds']:.0f} / {jobs[n]['wall_seconds']:.0f}" for n in names) + " |")
    second = jobs["second"]
    learning = second["stages"].get("train", 0) / max(second["job_seconds"], 1e-9)
    met = (jobs["fresh"]["job_seconds"] <= TARGETS["fresh"] and second["job_seconds"] <= TARGETS["second"]
           and learning >= 0.5)
    lines += ["", f"Targets (fresh <= {TARGETS['fresh']:.0f} s, second <= {TARGETS['second']:.0f} s, learning at "
              f"least half of the second): {'met' if met else 'not met'}; learning is {learning:.0%} of the "
              "second job.", ""]
    return "\n".join(lines)


def append_history(out: Path, entry: str) -> None:
    """Add `entry` at the end of the job-wall history in `out` (the marker is added once)."""
    text = out.read_text() if out.exists() else ""
    if HISTORY_MARKER not in text:
        text = text.rstrip() + "\n\n## The hero job's wall, stage by stage (history)\n\n" + HISTORY_MARKER + "\n"
    out.write_text(text.rstrip() + "\n\n" + entry.rstrip() + "\n")


def history_tail(out: Path) -> str:
    """What `tabrl bench` keeps when it rewrites `out`: the job-wall history, from its heading on."""
    text = out.read_text() if out.exists() else ""
    at = text.find(HISTORY_MARKER)
    if at < 0:
        return ""
    heading = text.rfind("\n## ", 0, at)
    return text[heading + 1 if heading >= 0 else at:]


__all__ = ["HISTORY_MARKER", "append_history", "history_tail", "markdown", "run_job_wall"]
