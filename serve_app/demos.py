"""Make the ready-made demo jobs the UI shows before anything has been trained.

    .venv/bin/python -m serve_app.demos                       # the default demo(s)
    .venv/bin/python -m serve_app.demos --model CartpoleBalance \\
        --prompt "Swing the pole wildly but never let it fall" --steps 20000 --size 320x240

`tune_jobs.demos.train_demo` trains each one with the job pipeline and lays out its
folder; this module writes its `job.json`: the API's own `JobView` with `demo: true`,
which `serve_app.store.load_demo_jobs` serves like any other job.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from serve_app.schemas import JobView, RenderOptions, RewardPoint, TrialView
from tabrl.job_layout import JobLayout
from tune_jobs.demos import DEFAULT_DEMOS, DEFAULT_OUT, DemoRun, train_demo


def demo_view(run: DemoRun) -> JobView:
    """The demo's JobView: each trial's result, its reward curve, the job's stages."""
    result, job_id = run.result, run.folder.name
    trials = []
    for trial in result.approaches:
        history = run.curves.get(trial.index, [])
        last = history[-1] if history else None
        view = TrialView(index=trial.index, name=trial.name, description=trial.description, status="failed",
                         env_steps=last.env_steps if last else 0, num_steps=run.num_steps, fraction=0.0,
                         reward=trial.reward.model_dump(mode="json") if trial.reward else None)
        view.take_result(trial, job_id, policy=False)  # no checkpoints: no policy to act with
        view.fraction = min(1.0, view.env_steps / run.num_steps)
        view.eta_seconds = None
        view.terms = dict(last.terms) if last else {}
        view.env_steps_per_second = last.env_steps_per_second if last else None
        view.reward_curve = [RewardPoint(env_steps=p.env_steps, episode_reward=p.episode_reward) for p in history]
        trials.append(view)
    succeeded = any(t.status == "succeeded" for t in trials)
    return JobView(
        job_id=job_id, model_id=result.model, prompt=result.prompt, num_steps=run.num_steps,
        use_base_policy=run.base_policy, base_policy=run.base_policy,
        status="succeeded" if succeeded else "failed", stage="ready-made demo" if succeeded else "failed",
        created_at=run.created_at, started_at=run.created_at, finished_at=run.finished_at,
        source=result.source, warnings=result.warnings, trials=trials,
        composite_url=f"/api/training/jobs/{job_id}/composite" if result.composite else None,
        render=RenderOptions.model_validate(run.video.model_dump()), demo=True,
        distinctness=result.distinctness, stages=result.stages,
    )


def make_demo(model_id: str, prompt: str, num_steps: int, out_root: Path, **options) -> Path:
    """One demo job folder under `out_root`, job.json and videos (`train_demo`'s options)."""
    run = train_demo(model_id, prompt, num_steps, out_root, **options)
    write_demo(run)
    return run.folder


def write_demo(run: DemoRun) -> None:
    JobLayout(run.folder).record.write_text(json.dumps(demo_view(run).model_dump(mode="json"), indent=2) + "\n")


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve_app.demos", description=__doc__.splitlines()[0])
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
            if old.is_dir() and JobLayout(old).record.is_file():
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
