"""Where a job's files live: the one place that spells out a job folder's layout.

    <root>/job.json                      the job's record (the pipeline's `JobResult`; a demo's `JobView`)
    <root>/composite.mp4                 the approaches' videos side by side
    <root>/approach-<i>/checkpoint/      trial i's trained policy (Brax parameters + config.json)
    <root>/approach-<i>/video.mp4        trial i's video
    <root>/approach-<i>/render-*.mp4     renderings asked for later (`POST /api/training/render-video`)
    <root>/tune/                         Tune's results and per-trial snapshots (unless storage is elsewhere)

The CLI, the Serve API, the demo maker and the renderer all go through `JobLayout`;
job ids come from `new_job_id` (what `serve_app.schemas.JOB_ID_PATTERN` accepts).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TUNE_EXPERIMENT = "batch"
"""The Tuner run's name under the tune storage: `<storage>/batch` is what a restore reads."""


def new_job_id() -> str:
    """`YYYYmmdd-HHMMSS-xxxxxx`: sortable by time, unique enough for one data folder."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


@dataclass(frozen=True)
class JobLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def job_id(self) -> str:
        return self.root.name

    @property
    def record(self) -> Path:
        """job.json"""
        return self.root / "job.json"

    @property
    def composite(self) -> Path:
        return self.root / "composite.mp4"

    @property
    def tune(self) -> Path:
        """Tune's default storage_path for this job."""
        return self.root / "tune"

    def approach(self, index: int) -> Path:
        return self.root / f"approach-{int(index)}"

    def checkpoint(self, index: int) -> Path:
        return self.approach(index) / "checkpoint"

    def video(self, index: int) -> Path:
        return self.approach(index) / "video.mp4"

    def rendering(self, index: int, name: str) -> Path:
        """A later rendering of trial `index`; `name` must already be checked (a plain file name)."""
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        return self.approach(index) / name

    def snapshots(self, index: int) -> Path:
        """Where trial `index` writes its resumable snapshots before Tune copies them into its storage."""
        return self.approach(index) / "snapshots"


__all__ = ["JobLayout", "TUNE_EXPERIMENT", "new_job_id"]
