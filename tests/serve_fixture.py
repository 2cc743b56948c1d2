"""A real TabRL API for tests: `tabrl serve` in a subprocess on a free port, over real HTTP.

    from tests.serve_fixture import ApiServer
    server = ApiServer(env={"TABRL_JOB_STORE": ...}); server.start(); ...; server.stop()

The catalog cache comes from the suite's TABRL_DATA_DIR (built by
test_catalog.py, or at the server's first start); each server gets its own
job store unless told otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
TABRL = Path(sys.executable).parent / "tabrl"
START_TIMEOUT_S = 420


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    def __init__(self, env: dict[str, str] | None = None, log: Path | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.log = log or REPO / "build" / "test-artifacts" / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> ApiServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        # Its own session, so that stopping it takes Ray's processes with it.
        self.process = subprocess.Popen(
            [str(TABRL), "serve", "--port", str(self.port)], env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=REPO,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tabrl serve exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"tabrl serve did not become healthy in {START_TIMEOUT_S} s; see {self.log}")

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (what Ctrl-C or a service manager sends), then SIGKILL of the whole group if needed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        # Ray's own processes of this server (in its session) must not outlive it.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """A hard crash: every process of the server's session (Ray's workers have process
        groups of their own, so a group kill would miss them) is frozen, then killed, so
        none outlives another and writes to the job store on its way out."""
        if self.process is None:
            return
        members = session_processes(self.process.pid)
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in members:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        self.process.wait(30)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 120), **kwargs)


def session_processes(sid: int) -> list[int]:
    """Ids of the live processes of session `sid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":  # after "pid (comm)": state, ppid, pgrp, session
                found.append(int(entry.name))
    return found


def read_events(client: httpx.Client, path: str, timeout: float = 900):
    """The JobView documents of a job's Server-Sent Events stream, until it ends."""
    import json

    with client.stream("GET", path, timeout=httpx.Timeout(30, read=timeout)) as response:
        response.raise_for_status()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "job":
                yield json.loads(line.split(":", 1)[1])


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def api_job_store(tmp_path_factory) -> Path:
    """The job store of the session's `tabrl serve`; a test may put a finished job in it."""
    return tmp_path_factory.mktemp("api") / "jobs.sqlite3"


@pytest.fixture(scope="session")
def api_server(api_job_store):
    """One `tabrl serve` for the tests that only need a running API (the UI tests); yields its base URL."""
    server = ApiServer(env={"TABRL_JOB_STORE": str(api_job_store)}).start()
    try:
        yield server.url
    finally:
        server.stop()
