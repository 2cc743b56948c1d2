"""`make up` (`python -m streamlit_ui.up`): the API and the UI start together on the
embedded local Ray, the printed URL serves the page, the ready-made demos are listed,
and Ctrl-C (pressed twice, as people do) stops everything without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serve_fixture import REPO, free_port

START_TIMEOUT_S = 600


@pytest.mark.slow
def test_make_up_serves_the_ui_and_the_demos_and_ctrl_c_stops_both(tmp_path):
    api_port, ui_port = free_port(), free_port()
    env = {**os.environ, "TABRL_JOB_STORE": str(tmp_path / "jobs.sqlite3")}
    env.pop("TABRL_API_URL", None)
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "streamlit_ui.up", "--api-port", str(api_port),
                               "--ui-port", str(ui_port)], cwd=REPO, env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "TabRL is up" not in log.read_text(errors="replace"):
            assert up.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "make up did not come up in time"
            time.sleep(2)
        assert f"open http://localhost:{ui_port}" in log.read_text()
        assert httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=30).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health", timeout=30).text.strip() == "ok"
        jobs = httpx.get(f"http://127.0.0.1:{api_port}/api/training/jobs", timeout=30).json()
        jobs = jobs["jobs"] if isinstance(jobs, dict) else jobs
        demos = {j["model_id"] for j in jobs if j.get("demo")}
        committed = {p.parent.name for p in (REPO / "demos").glob("*/job.json")}
        assert len([j for j in jobs if j.get("demo")]) == len(committed) >= 3
        assert "Go1JoystickFlatTerrain" in demos

        up.send_signal(signal.SIGINT)
        time.sleep(1)
        up.send_signal(signal.SIGINT)  # impatient: a second Ctrl-C must not cut the stop short
        assert up.wait(120) == 0
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    for port in (api_port, ui_port):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
