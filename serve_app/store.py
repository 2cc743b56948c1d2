"""The job store: one SQLite file (WAL mode), shared by the API, the coordinator and the job tasks.

A job is one row holding its `JobView` as JSON plus a revision number that
grows with every change (the event stream sends a new event per revision).
Finished trials also leave a `throughput` row (model, env count, env-steps/s,
compile and render seconds): the time estimates come from these measurements,
never from a guess. Nothing here imports Ray.

A cancel request for a running job is a row of `cancels` (its trials' Tune stopper reads
it between reports), so the job's document changes only when the job has stopped.

The person's favourite approach (`JobView.favourite`) is part of the document like
every other job field, so it survives restarts; documents written before the field
existed read as "no favourite", so an existing file needs no migration.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from serve_app.schemas import TERMINAL_STATUSES, JobView
from tabrl.job_layout import JobLayout

ACTIVE_STATUSES = ("proposing", "training", "rendering")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at);
CREATE TABLE IF NOT EXISTS throughput (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    num_envs INTEGER NOT NULL,
    accelerator INTEGER NOT NULL,
    env_steps_per_second REAL NOT NULL,
    compile_seconds REAL NOT NULL,
    render_seconds REAL,
    created_at REAL NOT NULL,
    start_seconds REAL
);
CREATE INDEX IF NOT EXISTS throughput_model ON throughput(model_id, accelerator);
CREATE TABLE IF NOT EXISTS cancels (
    job_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
);
"""


class Measurement(BaseModel):
    model_id: str
    num_envs: int
    accelerator: bool
    env_steps_per_second: float
    compile_seconds: float
    render_seconds: float | None = None
    created_at: float = 0.0
    start_seconds: float | None = None
    """The batch's "start" stage (`tabrl.stages`): Ray, the trial processes, a base's critic warm-up."""


class JobStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(throughput)")}
            if "start_seconds" not in columns:  # a store written before the start stage was measured
                db.execute("ALTER TABLE throughput ADD COLUMN start_seconds REAL")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    # --- jobs -----------------------------------------------------------------

    def create(self, job: JobView) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs(job_id, created_at, status, revision, doc) VALUES (?, ?, ?, 1, ?)",
                (job.job_id, job.created_at, job.status, job.model_dump_json()),
            )

    def get(self, job_id: str) -> JobView | None:
        with self._connect() as db:
            row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return JobView.model_validate_json(row[0]) if row else None

    def revision(self, job_id: str) -> int | None:
        with self._connect() as db:
            row = db.execute("SELECT revision FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def list(self, limit: int = 100) -> list[JobView]:
        with self._connect() as db:
            rows = db.execute("SELECT doc FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [JobView.model_validate_json(row[0]) for row in rows]

    def ids_with_status(self, *statuses: str) -> list[str]:
        marks = ",".join("?" * len(statuses))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT job_id FROM jobs WHERE status IN ({marks}) ORDER BY created_at", statuses
            ).fetchall()
        return [row[0] for row in rows]

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next queued job to start; None when the job is not queued."""
        queued = self.ids_with_status("queued")
        return queued.index(job_id) + 1 if job_id in queued else None

    def update(self, job_id: str, change: Callable[[JobView], None]) -> JobView:
        """Read, change and write one job atomically (other writers wait)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
                if row is None:
                    raise KeyError(job_id)
                job = JobView.model_validate_json(row[0])
                change(job)
                db.execute(
                    "UPDATE jobs SET status = ?, revision = revision + 1, doc = ? WHERE job_id = ?",
                    (job.status, job.model_dump_json(), job_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return job

    def requeue_cut_off(self) -> tuple[list[str], list[str]]:
        """Jobs that were running when the server stopped go back to the front of the queue
        (they were created before the waiting ones), to resume from their trials' last
        snapshots; those with a cancel request end cancelled. Returns (requeued, cancelled)."""
        requeued, cancelled = [], []
        for job_id in self.ids_with_status(*ACTIVE_STATUSES):
            if self.cancel_requested(job_id):
                self.update(job_id, mark_cancelled)
                cancelled.append(job_id)
                continue

            self.requeue(job_id, "resuming after a server restart")
            requeued.append(job_id)
        return requeued, cancelled

    def requeue(self, job_id: str, stage: str) -> None:
        """Back to the queue, in its place by creation time, to run again (resuming what it did)."""
        def change(job: JobView) -> None:
            if job.status in ACTIVE_STATUSES:
                job.status, job.stage = "queued", stage
        self.update(job_id, change)

    def request_cancel(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO cancels(job_id, requested_at) VALUES (?, ?)", (job_id, time.time()))

    def cancel_requested(self, job_id: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM cancels WHERE job_id = ?", (job_id,)).fetchone() is not None

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return dict(rows)

    # --- throughput measurements ---------------------------------------------------

    def record(self, measurement: Measurement) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO throughput(model_id, num_envs, accelerator, env_steps_per_second, "
                "compile_seconds, render_seconds, created_at, start_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (measurement.model_id, measurement.num_envs, int(measurement.accelerator),
                 measurement.env_steps_per_second, measurement.compile_seconds,
                 measurement.render_seconds, measurement.created_at or time.time(), measurement.start_seconds),
            )

    def measurements(self, model_id: str, accelerator: bool, limit: int = 50) -> list[Measurement]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT model_id, num_envs, accelerator, env_steps_per_second, compile_seconds, "
                "render_seconds, created_at, start_seconds FROM throughput WHERE model_id = ? AND accelerator = ? "
                "ORDER BY created_at DESC LIMIT ?",
                (model_id, int(accelerator), limit),
            ).fetchall()
        keys = Measurement.model_fields
        return [Measurement.model_validate(dict(zip(keys, row))) for row in rows]


def mark_cancelled(job: JobView) -> None:
    """A job stopped on request: finished trials keep their results, the others are cancelled."""
    job.status, job.stage = "cancelled", "cancelled"
    job.finished_at = time.time()
    for trial in job.trials:
        if trial.status in ("pending", "running"):
            trial.status, trial.error = "cancelled", "cancelled"


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def load_demo_jobs(demo_dir: Path) -> dict[str, tuple[JobView, Path]]:
    """Ready-made results: `demo_dir/<job_id>/job.json` (a JobView) with its videos beside it,
    newest first like the job list (the page opens on the first: the latest made)."""
    demos: dict[str, tuple[JobView, Path]] = {}
    if not demo_dir.is_dir():
        return demos
    for folder in sorted(demo_dir.iterdir(), reverse=True):
        doc = JobLayout(folder).record
        if not doc.is_file():
            continue
        try:
            job = JobView.model_validate(json.loads(doc.read_text()))
        except ValueError:
            continue  # a broken demo is skipped, never fatal
        if job.job_id == folder.name:
            demos[job.job_id] = (job.model_copy(update={"demo": True}), folder)
    return demos
