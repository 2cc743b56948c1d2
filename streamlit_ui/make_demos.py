"""Make the ready-made demo results the UI shows before anything has been trained.

    .venv/bin/python -m streamlit_ui.make_demos                       # the default demo(s)
    .venv/bin/python -m streamlit_ui.make_demos --model CartpoleBalance \\
        --prompt "Swing the pole wildly but never let it fall" --steps 20000 --size 320x240

Each demo is a REAL run of the same pipeline the API uses (propose three
approaches, train them as Ray Tune trials, render each from the same initial
state), written to the layout the API serves demo jobs from
(`TABRL_DEMO_DIR`, default the repo's `demos/`):

    demos/<job_id>/job.json               a JobView (serve_app.schemas) with demo=true
    demos/<job_id>/approach-<i>/video.mp4 one H.264 video per approach
    demos/<job_id>/composite.mp4          the three side by side

`video_url` and `composite_url` in job.json are the API's paths for them
(`/api/training/jobs/<job_id>/videos/<i>`, `/api/training/jobs/<job_id>/composite`).
Checkpoints are not kept (demos are for watching; `policy_id` is null), so the
folder stays small: the videos are re-encoded at a higher x264 CRF (32: the
starry dm_control sky is most of the bits), about 400 KB per demo at 320x240.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serve_app.schemas import JobView, RenderOptions, RewardPoint, TrialView

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


def make_demo(model_id: str, prompt: str, num_steps: int, out_root: Path, *, size=(320, 240),
              seconds: float = 10.0, fps: int = 30, seed: int = 0, crf: int = 32, proposal=None) -> Path:
    """One demo job folder under `out_root` (see the module's doc); `proposal`: these three
    approaches instead of `propose`'s (the behaviour bench passes the offline library's)."""
    from tabrl.catalog import base_policy_dir
    from tabrl.rewards import propose
    from tune_jobs.pipeline import new_job_id, train_and_render

    job_id = new_job_id()
    base = base_policy_dir(model_id)
    proposal = proposal or propose(model_id, prompt)
    curves: dict[int, list] = {i: [] for i in range(len(proposal.approaches))}

    def on_progress(index: int, progress) -> None:
        curves[index].append(progress)
        print(f"  approach {index}: {progress.env_steps:,}/{num_steps:,} steps, "
              f"reward {progress.episode_reward}", file=sys.stderr)

    created = time.time()
    with tempfile.TemporaryDirectory(prefix="tabrl-demo-") as tmp:
        work = Path(tmp) / job_id
        with contextlib.redirect_stdout(sys.stderr):
            result = train_and_render(model_id, proposal.prompt, proposal.approaches, num_steps, work,
                                      job_id=job_id, base_checkpoint=base, on_progress=on_progress,
                                      video_seconds=seconds, fps=fps, size=size, seed=seed)
        finished = time.time()
        target = out_root / job_id
        target.mkdir(parents=True, exist_ok=False)
        trials = []
        for index, (approach, outcome) in enumerate(zip(proposal.approaches, result.approaches)):
            history = curves[index]
            last = history[-1] if history else None
            video_url = None
            if outcome.video:
                (target / f"approach-{index}").mkdir()
                shutil.copyfile(outcome.video, target / f"approach-{index}" / "video.mp4")
                video_url = f"/api/training/jobs/{job_id}/videos/{index}"
            metrics = outcome.metrics
            env_steps = metrics.env_steps if metrics else (last.env_steps if last else 0)
            trials.append(TrialView(
                index=index, name=approach.name, description=approach.description,
                status="succeeded" if outcome.status == "succeeded" else "failed",
                env_steps=env_steps, num_steps=num_steps, fraction=min(1.0, env_steps / num_steps),
                episode_reward=metrics.final_reward if metrics else None,
                terms=dict(last.terms) if last else {},
                env_steps_per_second=last.env_steps_per_second if last else None,
                reward_curve=[RewardPoint(env_steps=p.env_steps, episode_reward=p.episode_reward) for p in history],
                compile_seconds=metrics.compile_seconds if metrics else None,
                train_seconds=metrics.train_seconds if metrics else None,
                video_url=video_url, error=outcome.error,
                reward=approach.reward.model_dump(mode="json"), behaviour=outcome.behaviour,
            ))
        composite_url = None
        if result.composite:
            shutil.copyfile(result.composite, target / "composite.mp4")
            composite_url = f"/api/training/jobs/{job_id}/composite"
    for video in target.rglob("*.mp4"):
        shrink_video(video, crf)
    succeeded = any(t.status == "succeeded" for t in trials)
    view = JobView(
        job_id=job_id, model_id=model_id, prompt=proposal.prompt, num_steps=num_steps,
        use_base_policy=base is not None, base_policy=base is not None,
        status="succeeded" if succeeded else "failed",
        stage="ready-made demo" if succeeded else "failed",
        created_at=created, started_at=created, finished_at=finished,
        source=proposal.source, warnings=list(proposal.warnings), trials=trials, composite_url=composite_url,
        render=RenderOptions(seconds=seconds, fps=fps, width=size[0], height=size[1], seed=seed), demo=True,
        distinctness=result.distinctness, stages=result.stages,
    )
    (target / "job.json").write_text(json.dumps(view.model_dump(mode="json"), indent=2) + "\n")
    return target


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamlit_ui.make_demos", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="demo folder (default: the repo's demos/)")
    parser.add_argument("--model", help="one demo of this model (default: the built-in list)")
    parser.add_argument("--prompt")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--size", type=_size, default=(320, 240), help="WIDTHxHEIGHT (default 320x240)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--crf", type=int, default=32, help="x264 quality for the committed videos")
    parser.add_argument("--replace", action="store_true", help="delete the existing demos first")
    args = parser.parse_args(argv)
    demos = [(args.model, args.prompt or "Swing the pole wildly but never let it fall", args.steps)] \
        if args.model else DEFAULT_DEMOS
    args.out.mkdir(parents=True, exist_ok=True)
    if args.replace:
        for old in args.out.iterdir():
            if old.is_dir() and (old / "job.json").is_file():
                shutil.rmtree(old)
    from tune_jobs.batch import ensure_ray

    ensure_ray()
    for model_id, prompt, steps in demos:
        print(f"demo: {model_id} · {prompt!r} · {steps:,} steps", file=sys.stderr)
        folder = make_demo(model_id, prompt, steps, args.out, size=args.size, seconds=args.seconds,
                           crf=args.crf)
        total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"{folder}  ({total / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
