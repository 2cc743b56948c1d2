"""Time the render stage (issue 17.2): `render_batch_videos` on three checkpoints, 10-s videos.

    python -m tabrl.bench_render {before|after} CHECKPOINTS_ROOT OUT_DIR [WIDTHxHEIGHT]

"before" loads `render_batch_videos` from `$TABRL_RENDER_BEFORE` (a copy of an older
tabrl/rendering.py, e.g. `git show 5a43d76:tabrl/rendering.py`); "after" uses this tree's.
Run it under `/usr/bin/time` for the CPU seconds. A benchmark, not a test.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    which, root, out = argv[0], Path(argv[1]), Path(argv[2])
    size = tuple(int(v) for v in argv[3].split("x")) if len(argv) > 3 else (160, 120)
    if which == "before":
        spec = importlib.util.spec_from_file_location("rendering_before", os.environ["TABRL_RENDER_BEFORE"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        import tabrl.rendering as module
    from tabrl.job_layout import JobLayout

    items = [(i, JobLayout(root).checkpoint(i), f"approach {i}") for i in range(3)]
    started = time.monotonic()
    videos, _ = module.render_batch_videos(items, out, seconds=10.0, fps=30, size=size, seed=0)
    print(f"{which}: render stage {time.monotonic() - started:.1f} s, load average {os.getloadavg()}")
    for video in videos:
        print(video.index, video.video, video.frames, video.render_seconds, video.error)


if __name__ == "__main__":
    main(sys.argv[1:])
