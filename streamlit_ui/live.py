"""Live job state from the API's event stream, read in a background thread.

The page must never block on a stream, so one daemon thread per watched job
reads `GET /api/training/jobs/{id}/events` (Server-Sent Events, one JobView per
change) and keeps the newest view; the page's progress fragment re-runs every
2 seconds and only reads it. When the stream breaks, the thread falls back to
polling `GET /api/training/jobs/{id}` and reconnects; a watcher nobody has read
for `IDLE_SECONDS` stops itself.
"""

from __future__ import annotations

import threading
import time

from serve_app.schemas import TERMINAL_STATUSES, JobView
from streamlit_ui.client import ApiClient, ApiError

IDLE_SECONDS = 600.0


class JobWatcher:
    def __init__(self, client: ApiClient, job_id: str):
        self.client = client
        self.job_id = job_id
        self._lock = threading.Lock()
        self._latest: JobView | None = None
        self._error: str | None = None
        self._last_read = time.monotonic()
        self.events_seen = 0
        self._thread = threading.Thread(target=self._run, name=f"tabrl-watch-{job_id}", daemon=True)
        self._thread.start()

    # --- read by the page -------------------------------------------------------

    def latest(self) -> JobView | None:
        with self._lock:
            self._last_read = time.monotonic()
            return self._latest

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the thread -------------------------------------------------------------

    def _set(self, view: JobView) -> None:
        with self._lock:
            self._latest = view
            self._error = None

    def _done(self) -> bool:
        view = self._latest
        if view is not None and view.status in TERMINAL_STATUSES:
            return True
        return time.monotonic() - self._last_read > IDLE_SECONDS

    def _run(self) -> None:
        backoff = 1.0
        while not self._done():
            try:
                for view in self.client.events(self.job_id):
                    self.events_seen += 1
                    self._set(view)
                    backoff = 1.0
                    if self._done():
                        return
            except ApiError as error:
                self._error = str(error)
                if error.status == 404:
                    return
            # The stream ended early or broke: poll once, then reconnect.
            try:
                self._set(self.client.job(self.job_id))
            except ApiError as error:
                self._error = str(error)
                if error.status == 404:
                    return
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


class WatcherRegistry:
    """One watcher per job for the whole UI process (shared by every browser tab)."""

    def __init__(self, client: ApiClient):
        self.client = client
        self._lock = threading.Lock()
        self._watchers: dict[str, JobWatcher] = {}

    def watch(self, job_id: str) -> JobWatcher:
        with self._lock:
            watcher = self._watchers.get(job_id)
            if watcher is None or not watcher.alive:
                finished = watcher is not None and watcher.latest() is not None and \
                    watcher.latest().status in TERMINAL_STATUSES
                if not finished:
                    watcher = JobWatcher(self.client, job_id)
                    self._watchers[job_id] = watcher
            return watcher
