"""Drawing a batch's videos at once: one process per video, each with its own EGL context.

C MuJoCo's renderer and Mesa's llvmpipe do most of a frame's work on one thread,
so three videos drawn one after another leave the other cores idle. Here each
video is drawn in its own process (`python -m tabrl.drawing`, started with
`subprocess`: unlike `multiprocessing`'s spawn it never re-runs the caller's main
script, and it needs no Ray), which pipes its frames to its own ffmpeg as they are
drawn (encoding overlaps drawing) and writes them into shared memory, where the
parent picks them up for the side-by-side composite.

`TABRL_RENDER_PROCESSES` caps the processes running at once (default: one per
video); `TABRL_RENDER_LP_THREADS` sets Mesa's `LP_NUM_THREADS` in them (default:
Mesa's own choice).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path

import numpy as np

import mujoco


@dataclass
class DrawJob:
    model_path: Path
    """The model as MuJoCo's binary file, written once for all of a batch's jobs (a pickled
    Go1 is 49 MB: three of them took 1.6 s to write and read back)."""
    family: str
    states: dict[str, np.ndarray]
    path: Path
    shm_name: str
    fps: int
    width: int
    height: int
    fast: bool


def _draw(job: DrawJob) -> float:
    from tabrl.frames import iter_frames
    from tabrl.video import mp4_writer

    started = time.monotonic()
    model = mujoco.MjModel.from_binary_path(str(job.model_path))
    n = len(job.states["qpos"])
    shm = shared_memory.SharedMemory(name=job.shm_name)
    # The parent owns the block: this process's resource tracker must not unlink it at exit.
    resource_tracker.unregister(shm._name, "shared_memory")
    try:
        frames = np.ndarray((n, job.height, job.width, 3), np.uint8, buffer=shm.buf)
        with mp4_writer(job.path, (job.height, job.width), job.fps) as writer:
            for i, frame in enumerate(iter_frames(model, job.states, job.family, job.width, job.height,
                                                  job.fast)):
                frames[i] = frame
                writer.add_image(frame)
        del frames
    finally:
        shm.close()
    return time.monotonic() - started


def _start(job: DrawJob, workdir: Path) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ)
    if os.environ.get("TABRL_RENDER_LP_THREADS"):
        env["LP_NUM_THREADS"] = os.environ["TABRL_RENDER_LP_THREADS"]  # read when the GL context is made
    spec, log = workdir / f"{job.shm_name}.pickle", workdir / f"{job.shm_name}.log"
    spec.write_bytes(pickle.dumps(job))
    with log.open("wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "tabrl.drawing", str(spec)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=err, env=env)
    return process, log


def _finish(process: subprocess.Popen, log: Path) -> tuple[float | None, str | None]:
    out, _ = process.communicate()
    if process.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        return None, lines[-1] if lines else f"the drawing process exited with {process.returncode}"
    return float(out.decode().strip().splitlines()[-1]), None


def draw_videos(model, family: str, states: list[dict[str, np.ndarray]], paths: list[Path], *,
                fps: int, width: int, height: int, fast: bool,
                processes: int | None = None) -> list[tuple[np.ndarray | None, float, str | None]]:
    """Draw each states' frames to its H.264 MP4 in `paths`, the videos in parallel.

    Returns per video (frames (n, height, width, 3), seconds it took, error or None);
    a video that fails does not stop the others."""
    if processes is None:
        processes = int(os.environ.get("TABRL_RENDER_PROCESSES", "0")) or len(states)
    blocks = [shared_memory.SharedMemory(create=True, size=max(1, len(s["qpos"]) * height * width * 3))
              for s in states]
    outcomes: list[tuple[float | None, str | None]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tabrl-draw-") as workdir:
            model_path = Path(workdir) / "model.mjb"
            mujoco.mj_saveModel(model, str(model_path), None)
            jobs = [DrawJob(model_path=model_path, family=family, states=s, path=Path(p), shm_name=b.name, fps=fps,
                            width=width, height=height, fast=fast) for s, p, b in zip(states, paths, blocks)]
            for first in range(0, len(jobs), max(1, processes)):
                running = [_start(job, Path(workdir)) for job in jobs[first:first + max(1, processes)]]
                outcomes.extend(_finish(p, log) for p, log in running)
        results = []
        for job, block, (seconds, error) in zip(jobs, blocks, outcomes):
            if error is not None:
                results.append((None, 0.0, error))
                continue
            n = len(job.states["qpos"])
            results.append((np.ndarray((n, height, width, 3), np.uint8, buffer=block.buf).copy(), seconds, None))
        return results
    finally:
        for block in blocks:
            block.close()
            block.unlink()


if __name__ == "__main__":  # a drawing process: the path of a pickled DrawJob; its seconds on stdout
    print(_draw(pickle.loads(Path(sys.argv[1]).read_bytes())))
