"""`tabrl bench --job-wall`: what a person waits for, from command to composite, stage by stage.

One run, each job a `tabrl train --json` process of its own on the idle machine:

1. the hero job in a fresh data folder (empty compile cache and executable store);
2. a second job on the same model with another prompt (the caches warm);
3. in another fresh data folder, `tabrl warm` (what `make up` has the server do while the
   page opens), then the hero job;
4. the way the UI runs jobs: `tabrl serve` in a third fresh data folder with `TABRL_WARM`
   the model (as `make up` starts it), then the two prompts as two jobs over HTTP, one after
   the other: Ray, the renderer and the warm programs already up, as a person finds them.

Each job's stages come from its own record (`tabrl.stages`: propose, start, critic,
compile, train, render, composite), the wall from the process. The table is appended to the
"job wall" history at the end of BENCHMARKS.md (`HISTORY_MARKER`); earlier entries
stay, so the file shows before and after. Issue 17's targets: at most 200 s fresh,
at most 90 s for the second job, learning at least half of it.
"""

from __future__ import annotations

import contextlib
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
STAGES = ("propose", "start", "critic", "compile", "train", "render", "composite")
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
    print(f"  {prompt!r}: {job['seconds']:.0f} s, process {wall:.0f} s, {stages}", file=sys.stderr)
    return {"prompt": prompt, "wall_seconds": round(wall, 1), "job_seconds": job["seconds"], "stages": stages}


def _served_jobs(model: str, steps: int, size: str, seconds: float, data_dir: Path, keep) -> tuple[dict, dict]:
    """`tabrl serve` with `TABRL_WARM` (as `make up` runs it) in `data_dir`, ready once the
    model is warm; then each prompt as a job over HTTP. Returns (the warm-up, {name: job})."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TABRL_DATA_DIR": str(data_dir), "TABRL_WARM": f"{model}:{steps}"}
    for name in ("TABRL_JAX_CACHE_DIR", "TABRL_API_TOKEN", "TABRL_JOB_STORE"):
        env.pop(name, None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "serve.log").open("ab")
    started = time.monotonic()
    server = subprocess.Popen([sys.executable, "-m", "tabrl_cli", "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    width, height = (int(v) for v in size.split("x"))
    jobs: dict = {}
    try:
        with httpx.Client(base_url=url, timeout=30) as api:
            while True:  # until the API answers and the model is warm
                if server.poll() is not None:
                    raise RuntimeError(f"tabrl serve exited with {server.returncode}; see {data_dir / 'serve.log'}")
                try:  # while Serve starts, the port may answer with an error page
                    health = api.get("/api/health")
                    warming = health.json().get("warming", []) if health.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    warming = None
                if warming is not None and all(w["state"] in ("ready", "failed") for w in warming):
                    break
                if time.monotonic() - started > 3600:
                    raise RuntimeError("tabrl serve was not warm within an hour")
                time.sleep(1)
            warm = {"wall_seconds": round(time.monotonic() - started, 1),
                    "states": [w["state"] for w in warming],
                    "executables_compiled": sum(w.get("executables_compiled") or 0 for w in warming)}
            for name, prompt in (("served, first", PROMPTS[0]), ("served, second", PROMPTS[1])):
                submitted = time.monotonic()
                answer = api.post("/api/training/batch", json={
                    "model_id": model, "prompt": prompt, "num_steps": steps,
                    "render": {"seconds": seconds, "fps": 30, "width": width, "height": height, "seed": 0}})
                answer.raise_for_status()
                job_id = answer.json()["job_id"]
                while (view := api.get(f"/api/training/jobs/{job_id}").json())["status"] not in (
                        "succeeded", "failed", "cancelled", "interrupted"):
                    time.sleep(0.5)
                wall = time.monotonic() - submitted
                if view["status"] != "succeeded":
                    raise RuntimeError(f"the served job {view['status']}: {view.get('error')}")
                stages = {s["name"]: s["seconds"] for s in view.get("stages") or []}
                print(f"  {name} {prompt!r}: {wall:.0f} s, {stages}", file=sys.stderr)
                jobs[name] = {"prompt": prompt, "wall_seconds": round(wall, 1),
                              "job_seconds": round(sum(stages.values()), 1), "stages": stages}
                target = keep(name.replace(", ", "-"))
                if target is not None and view.get("composite_url"):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(api.get(view["composite_url"]).content)
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 9)  # Ray's processes of this server go with it
        log.close()
    return warm, jobs


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
        log("job wall: tabrl serve as make up starts it (warming the model), then the two jobs over HTTP...")
        try:
            record["served_warm"], served = _served_jobs(model, steps, size, seconds, Path(tmp) / "served", keep)
            record["jobs"].update(served)
        except Exception as error:  # the command-line columns are measured: keep them
            record["served_error"] = f"{type(error).__name__}: {error}"
            log(f"job wall: the served jobs failed: {record['served_error']}")
    record["load_end"] = list(os.getloadavg())
    out = Path(out)
    out.with_suffix(".jobwall.json").write_text(json.dumps(record, indent=1) + "\n")
    append_history(out, markdown(record))
    return record


def markdown(record: dict) -> str:
    jobs = record["jobs"]
    names = list(jobs)
    setting = (f"Load average before / after: {record['load_start'][0]:.1f} / {record['load_end'][0]:.1f}. "
               f"`tabrl warm` before the \"after warm\" job: {record['warm']['wall_seconds']:.0f} s "
               f"({record['warm']['executables_compiled']} training programs compiled).")
    if "served_error" in record:
        setting += f" The served jobs failed: {record['served_error']}"
    if "served_warm" in record:
        setting += (f" `tabrl serve` warm (API up, model warm): {record['served_warm']['wall_seconds']:.0f} s; "
                    "its two jobs' wall is from the request to the finished job.")
    lines = [
        f"### {record['date']}: {record['model']}, {record['steps']:,} steps, {record['size']} "
        f"{record['seconds']:g}-s videos",
        "",
        "```bash",
        f"tabrl bench --job-wall --model {record['model']} --steps {record['steps']}",
        "```",
        "",
        setting,
        "",
        "| stage (s) | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for stage in STAGES:
        lines.append(f"| {stage} | " + " | ".join(f"{jobs[n]['stages'].get(stage, 0):.1f}" for n in names) + " |")
    lines.append("| job / process wall | " + " | ".join(
        f"{jobs[n]['job_seconds']:.0f} / {jobs[n]['wall_seconds']:.0f}" for n in names) + " |")
    lines.append("")
    for first, second in (("fresh", "second"), ("served, first", "served, second")):
        if first not in jobs or second not in jobs:
            continue
        stages, wall = jobs[second]["stages"], max(jobs[second]["job_seconds"], 1e-9)
        learning = stages.get("train", 0) / wall  # PPO's own steps: the target is judged on these
        with_critic = (stages.get("train", 0) + stages.get("critic", 0)) / wall
        met = (jobs[first]["job_seconds"] <= TARGETS["fresh"] and jobs[second]["job_seconds"] <= TARGETS["second"]
               and learning >= 0.5)
        lines.append(f"Targets ({first} <= {TARGETS['fresh']:.0f} s, {second} <= {TARGETS['second']:.0f} s, learning "
                     f"at least half of the {second}): {'met' if met else 'not met'}; PPO's training is "
                     f"{learning:.0%} of the {second} job ({with_critic:.0%} with the critic's fit).")
    return "\n".join(lines) + "\n"


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
