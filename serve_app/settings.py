"""The Serve app's settings, from environment variables (read once per process).

    TABRL_DATA_DIR              jobs, the job store, thumbnails, the compile cache
                                (shared storage on a cluster: every node must see it)
    TABRL_JOB_STORE             the SQLite file (default DATA_DIR/jobs.sqlite3)
    TABRL_TUNE_STORAGE          Tune's storage_path (default: each job's folder); s3://, gs:// work
    TABRL_API_TOKEN             when set, endpoints that start work need `Authorization: Bearer <token>`
    TABRL_MAX_RUNNING_BATCHES   batches trained at once (default 1; 0 pauses training: batches only queue)
    TABRL_MAX_QUEUED_BATCHES    batches allowed to wait (default 8); beyond: 429 + Retry-After
    TABRL_MAX_STEPS             largest num_steps accepted (default 2,000,000 without a GPU, 1e9 with)
    TABRL_MAX_BODY_BYTES        request body limit (default 64 KiB)
    TABRL_CORS_ORIGINS          comma-separated origins allowed by CORS (default: none, CORS off)
    TABRL_DEMO_DIR              ready-made demo jobs shown before anything is trained (default: repo's demos/)
    TABRL_RENDER_GPUS           GPUs the renderer asks for on a GPU cluster (default 0.25)
    TABRL_SNAPSHOT_SECONDS      how often a training trial saves a snapshot a restarted server resumes
                                from (default 30; 0 turns snapshots off)
    TABRL_WARM_WORKERS          1 (default): CPU trials train in long-lived worker processes that
                                later jobs reuse (`tune_jobs.workers`); 0: a new process per trial
    TABRL_WARM                  models whose programs are compiled when the server starts (`tabrl.warm`),
                                comma-separated, each `MODEL` (the UI's Quick budget) or `MODEL:STEPS`;
                                default none (`make up` warms the Go1)
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from tabrl.job_layout import JobLayout
from tabrl.settings import data_dir

REPO_DEMOS = Path(__file__).resolve().parent.parent / "demos"


class ServeSettings(BaseModel):
    data_dir: Path
    job_store: Path
    tune_storage: str | None
    api_token: str | None
    max_running: int
    max_queued: int
    max_steps_cpu: int
    max_steps_gpu: int
    max_body_bytes: int
    cors_origins: list[str]
    demo_dir: Path
    render_gpus: float
    snapshot_seconds: float | None = 30.0
    """None: trials save no snapshots (a restart cannot resume them)."""
    warm: list[tuple[str, int | None]] = []
    """(model, steps or None for the UI's Quick budget) to compile at start (`TABRL_WARM`)."""
    warm_workers: bool = True
    """CPU trials train in long-lived workers later jobs reuse (`TABRL_WARM_WORKERS`)."""

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    def job(self, job_id: str) -> JobLayout:
        """A job's folder (`job_id` already checked against `schemas.JOB_ID_PATTERN`)."""
        return JobLayout(self.jobs_dir / job_id)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def load_settings() -> ServeSettings:
    root = data_dir()
    max_steps = os.environ.get("TABRL_MAX_STEPS", "").strip()
    return ServeSettings(
        data_dir=root,
        job_store=Path(os.environ.get("TABRL_JOB_STORE") or root / "jobs.sqlite3"),
        tune_storage=os.environ.get("TABRL_TUNE_STORAGE") or None,
        api_token=os.environ.get("TABRL_API_TOKEN") or None,
        max_running=max(0, _int("TABRL_MAX_RUNNING_BATCHES", 1)),
        max_queued=max(0, _int("TABRL_MAX_QUEUED_BATCHES", 8)),
        max_steps_cpu=_int("TABRL_MAX_STEPS", 2_000_000) if max_steps else 2_000_000,
        max_steps_gpu=_int("TABRL_MAX_STEPS", 1_000_000_000) if max_steps else 1_000_000_000,
        max_body_bytes=_int("TABRL_MAX_BODY_BYTES", 64 * 1024),
        cors_origins=[o.strip() for o in os.environ.get("TABRL_CORS_ORIGINS", "").split(",") if o.strip()],
        demo_dir=Path(os.environ.get("TABRL_DEMO_DIR") or REPO_DEMOS),
        render_gpus=float(os.environ.get("TABRL_RENDER_GPUS") or 0.25),
        snapshot_seconds=_snapshot_seconds(),
        warm_workers=os.environ.get("TABRL_WARM_WORKERS", "1").strip() != "0",
        warm=_warm(),
    )


def _warm() -> list[tuple[str, int | None]]:
    out = []
    for item in os.environ.get("TABRL_WARM", "").split(","):
        model, _, steps = item.strip().partition(":")
        if not model:
            continue
        try:
            out.append((model, int(float(steps)) if steps.strip() else None))
        except ValueError:
            raise ValueError(f"TABRL_WARM: {item.strip()!r} is not MODEL or MODEL:STEPS") from None
    return out


def _snapshot_seconds() -> float | None:
    raw = os.environ.get("TABRL_SNAPSHOT_SECONDS", "").strip()
    try:
        value = float(raw) if raw else 30.0
    except ValueError:
        raise ValueError(f"TABRL_SNAPSHOT_SECONDS must be a number of seconds, not {raw!r}") from None
    return value if value > 0 else None
