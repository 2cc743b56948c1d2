"""Robots whose meshes are not here, offline: through the real API (`tabrl serve`) and the real
CLI, the model stays listed as unavailable with one sentence and the fix, within seconds, and
nothing half-written is left in the data folder. (A successful download is
tests/test_menagerie_fetch.py, against a local server.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import pytest

from tests.serve_fixture import REPO, ApiServer


class Stalls(BaseHTTPRequestHandler):
    """Accepts the request and never answers: a stalled download server."""

    def do_GET(self):  # noqa: N802
        time.sleep(60)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stalled_mirror():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Stalls)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/assets"
    httpd.shutdown()


def leftovers(data) -> list[str]:
    root = data / "menagerie"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".lock-")) if root.is_dir() else []


@pytest.mark.slow
def test_api_lists_at_once_and_a_stalled_download_fails_cleanly(tmp_path, stalled_mirror):
    data = tmp_path / "data"
    env = {"TABRL_DATA_DIR": str(data), "MENAGERIE_BASE_URL": stalled_mirror}
    server = ApiServer(env=env, log=tmp_path / "serve.log")
    server.env.pop("TABRL_MENAGERIE_DIR", None)
    server.start()
    try:
        with server.client(timeout=30) as api:
            start = time.monotonic()
            listing = api.get("/api/playground/models").json()
            assert time.monotonic() - start < 1.0  # a fresh data folder: read from the bundle
            models = {m["id"]: m for m in listing["models"]}
            assert len(models) == 54 and models["Go1JoystickFlatTerrain"]["available"]
            g1 = models["G1JoystickFlatTerrain"]
            assert not g1["available"] and g1["meshes_missing"]

            go1 = api.post("/api/playground/models/Go1JoystickFlatTerrain/meshes")
            assert go1.status_code == 409 and "ready" in go1.json()["detail"]

            accepted = api.post("/api/playground/models/G1JoystickFlatTerrain/meshes")
            assert accepted.status_code == 202 and accepted.json()["state"] == "fetching"
            deadline = time.monotonic() + 30
            while True:
                listing = api.get("/api/playground/models").json()
                fetch = next(f for f in listing["fetches"] if f["model_id"] == "G1JoystickFlatTerrain")
                if fetch["state"] != "fetching":
                    break
                assert time.monotonic() < deadline, "the stalled download did not give up"
                time.sleep(0.5)
            assert fetch["state"] == "failed"
            assert "unitree_g1" in fetch["error"] and "did not answer" in fetch["error"]
            g1 = next(m for m in listing["models"] if m["id"] == "G1JoystickFlatTerrain")
            assert not g1["available"] and "TABRL_MENAGERIE_DIR" in g1["unavailable_reason"]
            assert api.get("/api/health").status_code == 200  # the server stayed responsive
    finally:
        server.stop()
    assert leftovers(data) == []


def test_cli_train_offline_says_why_in_seconds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TABRL_MENAGERIE_DIR"}
    env.update(TABRL_DATA_DIR=str(tmp_path / "data"), MENAGERIE_BASE_URL="http://127.0.0.1:9/offline")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tabrl_cli", "train", "--model", "G1JoystickFlatTerrain",
                             "--prompt", "Walk like you're on the moon", "--steps", "2000"],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - start < 60
    assert "unitree_g1 meshes failed" in result.stderr and "no internet connection" in result.stderr
    assert "Traceback" not in result.stderr
    assert leftovers(tmp_path / "data") == []
