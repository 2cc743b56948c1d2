"""The job store alone (SQLite, no Ray, no server): fast."""

from __future__ import annotations

import json
import sqlite3

from serve_app.schemas import JobView, RenderOptions, TrialView
from serve_app.store import JobStore


def finished_job(job_id: str = "20261124-101010-abcdef") -> JobView:
    trials = [TrialView(index=i, name=f"A{i}", description="d", status="succeeded", num_steps=2000, fraction=1.0)
              for i in range(3)]
    return JobView(job_id=job_id, model_id="CartpoleBalance", prompt="Swing it", num_steps=2000,
                   use_base_policy=False, base_policy=False, status="succeeded", stage="done", created_at=1.0,
                   render=RenderOptions(), trials=trials)


def test_a_store_written_before_favourites_existed_still_opens_and_takes_one(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    old_doc = json.loads(finished_job().model_dump_json())
    del old_doc["favourite"]  # what a store written before this field existed holds
    with sqlite3.connect(path) as db:  # that store's schema, as it was
        db.execute("CREATE TABLE jobs (job_id TEXT PRIMARY KEY, created_at REAL NOT NULL, status TEXT NOT NULL, "
                   "revision INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)")
        db.execute("INSERT INTO jobs VALUES (?, ?, ?, 1, ?)",
                   (old_doc["job_id"], 1.0, "succeeded", json.dumps(old_doc)))
    store = JobStore(path)
    job = store.get(old_doc["job_id"])
    assert job is not None and job.favourite is None and [t.name for t in job.trials] == ["A0", "A1", "A2"]

    def mark(view: JobView) -> None:
        view.favourite = 2
    store.update(job.job_id, mark)
    assert store.revision(job.job_id) == 2  # a change like any other: the event stream sees it
    reopened = JobStore(path)  # what a server restart does
    assert reopened.get(job.job_id).favourite == 2
    assert [j.favourite for j in reopened.list()] == [2]


def running_job(job_id: str, status: str = "training") -> JobView:
    job = finished_job(job_id)
    job.created_at = float(job_id[9:15])  # created in the order of their ids
    job.status, job.stage = status, "training 3 approaches in parallel"
    for trial in job.trials:
        trial.status = "running"
    job.trials[0].status = "succeeded"
    return job


def test_a_restart_requeues_cut_off_jobs_to_resume_and_ends_cancelled_ones(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.create(running_job("20261124-101010-aaaaaa"))
    store.create(running_job("20261124-101011-bbbbbb", "rendering"))
    store.create(running_job("20261124-101012-cccccc"))
    store.request_cancel("20261124-101012-cccccc")
    queued = finished_job("20261124-101013-dddddd")
    queued.status, queued.created_at = "queued", 999_999.0
    store.create(queued)

    requeued, cancelled = JobStore(tmp_path / "jobs.sqlite3").requeue_cut_off()  # what a restart does
    assert requeued == ["20261124-101010-aaaaaa", "20261124-101011-bbbbbb"]
    assert cancelled == ["20261124-101012-cccccc"]
    # Cut off first, so they start before the ones that were waiting.
    assert store.ids_with_status("queued") == requeued + ["20261124-101013-dddddd"]
    assert store.get(requeued[0]).stage == "resuming after a server restart"
    gone = store.get("20261124-101012-cccccc")
    assert gone.status == "cancelled" and gone.finished_at
    assert [t.status for t in gone.trials] == ["succeeded", "cancelled", "cancelled"]  # the finished one stays


def test_cancel_requests_are_per_job_and_survive_reopening(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.create(running_job("20261124-101010-aaaaaa"))
    assert not store.cancel_requested("20261124-101010-aaaaaa")
    store.request_cancel("20261124-101010-aaaaaa")
    store.request_cancel("20261124-101010-aaaaaa")  # twice is once
    assert JobStore(tmp_path / "jobs.sqlite3").cancel_requested("20261124-101010-aaaaaa")
    assert not store.cancel_requested("20261124-101011-bbbbbb")


def test_estimates_add_up_the_stages_a_job_waits_through(tmp_path):
    """The estimate before training is the sum of the stages a finished job recorded: start
    (Ray, trial processes, a base's critic warm-up), compile, train, render; a store written
    before the start stage was measured opens, and its rows estimate without it."""
    from serve_app.estimates import estimate
    from serve_app.store import Measurement

    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:  # the throughput table as it was before `start_seconds`
        db.execute("CREATE TABLE throughput (id INTEGER PRIMARY KEY AUTOINCREMENT, model_id TEXT NOT NULL, "
                   "num_envs INTEGER NOT NULL, accelerator INTEGER NOT NULL, env_steps_per_second REAL NOT NULL, "
                   "compile_seconds REAL NOT NULL, render_seconds REAL, created_at REAL NOT NULL)")
        db.execute("INSERT INTO throughput(model_id, num_envs, accelerator, env_steps_per_second, compile_seconds, "
                   "render_seconds, created_at) VALUES ('Go1JoystickFlatTerrain', 64, 0, 1000, 3, 120, 1)")
    store = JobStore(path)
    old = estimate(store.measurements("Go1JoystickFlatTerrain", False), num_envs=64, env_steps=60_000)
    assert old.start_seconds is None and old.seconds == 3 + 60 + 120
    for start in (90.0, 94.0, 100.0):
        store.record(Measurement(model_id="Go1JoystickFlatTerrain", num_envs=64, accelerator=False,
                                 env_steps_per_second=1000, compile_seconds=3, render_seconds=120,
                                 start_seconds=start))
    new = estimate(store.measurements("Go1JoystickFlatTerrain", False), num_envs=64, env_steps=60_000)
    assert new.start_seconds == 94.0  # the median of the rows that measured it
    assert new.seconds == 94 + 3 + 60 + 120
