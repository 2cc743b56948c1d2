"""Train the ready-made demo results the UI shows before anything has been trained.

    .venv/bin/python -m serve_app.demos                       # the default demo(s)
    .venv/bin/python -m serve_app.demos --model CartpoleBalance \\
        --prompt "Swing the pole wildly but never let it fall" --steps 20000 --size 320x240

This module trains a demo and lays out its folder (`train_demo`); its `job.json`, the
API's `JobView`, is written by `serve_app.demos`, the owner of that format (the layers:
the Tune side never imports the Serve app). Each demo is a REAL run of the job pipeline the API and `tabrl train` use
(`tune_jobs.pipeline`: propose three approaches, train them as Ray Tune trials,
render each from the same initial state), written in the job layout
(`tabrl.job_layout`) the API serves demo jobs from (`TABRL_DEMO_DIR`, default the
repo's `demos/`):

    demos/<job_id>/    a job folder: job.json (a `serve_app.schemas.JobView` with demo=true),
                       one H.264 video per approach and the three side by side

`video_url` and `composite_url` in job.json are the API's paths for them
(`/api/training/jobs/<job_id>/videos/<i>`, `/api/training/jobs/<job_id>/composite`).
Checkpoints are not kept (demos are for watching; `policy_id` is null), so the
folder stays small: the videos are re-encoded at a higher x264 CRF (32: the
starry dm_control sky is most of the bits), about 400 KB per demo at 320x240.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from tabrl.job_layout import JobLayout
from tabrl.job_results import JobResult, VideoOptions
from tabrl.training import Progress

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "demos"
DEFAULT_DEMOS = [
    ("CartpoleBalance", "Swing the pole wildly but never let it fall", 20_000),
    ("CheetahRun", "Pretend you're a happy puppy", 40_000),
    ("Go1JoystickFlatTerrain", "Keep shaking your hips aloha dude!", 200_000),
]
"""(model, prompt, steps) of the committed demos: CPU-sized budgets, trained from scratch
unless the model has a base policy (the Go1 fine-tunes Playground's walking policy at the
Standard preset, 200,000 steps per approach). The committed Go1 demos, one per example
prompt, come from the behaviour benchmark, which makes each job as a demo:
`tabrl bench --behaviour --demos demos` (the hips prompt last, so the page opens on it)."""


def shrink_video(path: Path, crf: int = 32) -> None:
    """Re-encode an MP4 in place with H.264 at `crf` (kept only when it is smaller)."""
    import imageio_ffmpeg

    smaller = path.with_suffix(".small.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(path),
                    "-c:v", "libx264", "-crf", str(crf), "-preset", "slow", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", "-an", str(smaller)], check=True)
    if smaller.stat().st_size < path.stat().st_size:
        smaller.replace(path)
    else:
        smaller.unlink()


class DemoRun(BaseModel):
    """A trained demo: its folder (videos in place), the job's result and each trial's progress."""

    folder: Path
    result: JobResult
    curves: dict[int, list[Progress]]
    num_steps: int
    base_policy: bool
    video: VideoOptions
    created_at: float
    finished_at: float


def train_demo(model_id: str, prompt: str, num_steps: int, out_root: Path, *, size=(320, 240),
               seconds: float = 10.0, fps: int = 30, seed: int = 0, crf: int = 32, proposal=None) -> DemoRun:
    """Train one demo job with the job pipeline and put its videos under `out_root/<job_id>`
    (shrunk, no checkpoints); `proposal`: these three approaches instead of `propose`'s (the
    behaviour bench passes the offline library's)."""
    from tabrl.catalog import base_policy_dir
    from tabrl.job_layout import new_job_id
    from tune_jobs.pipeline import JobEvents, JobRequest, run_job

    job_id = new_job_id()
    base = base_policy_dir(model_id)
    curves: dict[int, list[Progress]] = {}

    class Log(JobEvents):
        def progress(self, index: int, progress: Progress) -> None:
            curves.setdefault(index, []).append(progress)
            print(f"  approach {index}: {progress.env_steps:,}/{num_steps:,} steps, "
                  f"reward {progress.episode_reward}", file=sys.stderr)

    created = time.time()
    video = VideoOptions(seconds=seconds, fps=fps, width=size[0], height=size[1], seed=seed)
    target = JobLayout(Path(out_root) / job_id)
    with tempfile.TemporaryDirectory(prefix="tabrl-demo-") as tmp:
        request = JobRequest(
            job_id=job_id, model=model_id, prompt=proposal.prompt if proposal else prompt, num_steps=num_steps,
            out_dir=Path(tmp) / job_id, approaches=proposal.approaches if proposal else None,
            source=proposal.source if proposal else None, base_checkpoint=base, video=video)
        with contextlib.redirect_stdout(sys.stderr):
            result = run_job(request, events=Log())
        finished = time.time()
        target.root.mkdir(parents=True, exist_ok=False)
        for trial in result.approaches:
            trial.checkpoint = None  # demos are for watching: no checkpoints kept
            if trial.video:
                target.approach(trial.index).mkdir()
                shutil.copyfile(trial.video, target.video(trial.index))
                trial.video = str(target.video(trial.index))
        if result.composite:
            shutil.copyfile(result.composite, target.composite)
            result.composite = str(target.composite)
    for path in target.root.rglob("*.mp4"):
        shrink_video(path, crf)
    return DemoRun(folder=target.root, result=result, curves=curves, num_steps=num_steps,
                   base_policy=base is not None, video=video, created_at=created, finished_at=finished)


__all__ = ["DEFAULT_DEMOS", "DEFAULT_OUT", "DemoRun", "shrink_video", "train_demo"]
