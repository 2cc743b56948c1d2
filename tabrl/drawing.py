"""Drawing a batch's videos at once: one process per video, each with its own EGL context.

C MuJoCo's renderer and Mesa's llvmpipe do most of a frame's work on one thread,
so three videos drawn one after another leave the other cores idle. Here each
video is drawn in a spawned process (`multiprocessing`, no Ray: the core stays
plain Python) which pipes its frames to its own ffmpeg as they are drawn
(encoding overlaps drawing) and writes them into shared memory, where the parent
picks them up for the side-by-side composite.

`TABRL_RENDER_PROCESSES` caps the processes (default: one per video);
`TABRL_RENDER_LP_THREADS` sets Mesa's `LP_NUM_THREADS` in them (see BENCHMARKS.md
for the measurement behind the default).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

DEFAULT_LP_THREADS = "1"


@dataclass
class DrawJob:
    states: dict[str, np.ndarray]
    path: Path
    shm_name: str


def _init_worker(lp_threads: str) -> None:
    if lp_threads:
        os.environ["LP_NUM_THREADS"] = lp_threads  # read when the GL context is created


def _draw(model, family: str, job: DrawJob, fps: int, width: int, height: int, fast: bool) -> float:
    from tabrl.rendering import iter_frames
    from tabrl.video import mp4_writer

    started = time.monotonic()
    n = len(job.states["qpos"])
    shm = shared_memory.SharedMemory(name=job.shm_name)
    try:
        frames = np.ndarray((n, height, width, 3), np.uint8, buffer=shm.buf)
        with mp4_writer(job.path, (height, width), fps) as writer:
            for i, frame in enumerate(iter_frames(model, job.states, family, width, height, fast)):
                frames[i] = frame
                writer.add_image(frame)
        del frames
    finally:
        shm.close()
    return time.monotonic() - started


def draw_videos(model, family: str, states: list[dict[str, np.ndarray]], paths: list[Path], *,
                fps: int, width: int, height: int, fast: bool,
                processes: int | None = None) -> list[tuple[np.ndarray | None, float, str | None]]:
    """Draw each states' frames to its H.264 MP4 in `paths`, the videos in parallel.

    Returns per video (frames (n, height, width, 3), seconds it took, error or None);
    a video that fails does not stop the others."""
    if processes is None:
        processes = int(os.environ.get("TABRL_RENDER_PROCESSES", "0")) or len(states)
    lp_threads = os.environ.get("TABRL_RENDER_LP_THREADS", DEFAULT_LP_THREADS)
    blocks, jobs = [], []
    for s, path in zip(states, paths):
        size = max(1, len(s["qpos"]) * height * width * 3)
        block = shared_memory.SharedMemory(create=True, size=size)
        blocks.append(block)
        jobs.append(DrawJob(states=s, path=Path(path), shm_name=block.name))
    results: list[tuple[np.ndarray | None, float, str | None]] = []
    try:
        context = multiprocessing.get_context("spawn")
        with context.Pool(max(1, min(processes, len(jobs))), initializer=_init_worker,
                          initargs=(lp_threads,)) as pool:
            pending = [pool.apply_async(_draw, (model, family, job, fps, width, height, fast)) for job in jobs]
            for job, block, task in zip(jobs, blocks, pending):
                try:
                    seconds = task.get()
                except Exception as error:  # one broken video; the others still count
                    results.append((None, 0.0, f"{type(error).__name__}: {error}"))
                    continue
                n = len(job.states["qpos"])
                frames = np.ndarray((n, height, width, 3), np.uint8, buffer=block.buf).copy()
                results.append((frames, seconds, None))
    finally:
        for block in blocks:
            block.close()
            block.unlink()
    return results
