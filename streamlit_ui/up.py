"""`make up`: the Serve API and the UI together on this machine, until Ctrl-C.

    .venv/bin/python -m streamlit_ui.up [--api-port 8000] [--ui-port 8501]

1. Starts `streamlit run streamlit_ui/app.py` at once (the page says what it waits for).
2. Starts `tabrl serve` in the background (an embedded local Ray, or the cluster
   named by RAY_ADDRESS), logging to DATA_DIR/serve.log; when an API already
   answers at TABRL_API_URL, that one is used instead. The server it starts compiles
   the Go1's programs while the page opens (`TABRL_WARM`, default the Go1; set it
   empty to skip), so the first job does not wait for a cold compile.
3. Waits until `/api/health` and the page answer, and prints the URL to open.
4. When the UI stops (Ctrl-C, or it exits), the server it started is stopped too.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
API_START_TIMEOUT = 900.0
WARM = "Go1JoystickFlatTerrain"
"""What `make up` warms unless TABRL_WARM says otherwise (the UI's hero, preselected)."""
START_ATTEMPTS = 3
RAY_START_TIMEOUT = "timed out during startup"
"""Ray gives its raylet a fixed 30 s to register; a busy machine can miss that, and a retry helps."""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait(url: str, process: subprocess.Popen | None, what: str, timeout: float, log: Path | None,
          log_start: int = 0, retry: bool = False) -> bool:
    """True once `url` answers; False when the process died of a retryable Ray start-up timeout."""
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while not _answers(url):
        if process is not None and process.poll() is not None:
            output = log.read_bytes()[log_start:].decode(errors="replace") if log else ""
            if retry and RAY_START_TIMEOUT in output:
                return False
            sys.exit(f"TabRL: {what} exited with status {process.returncode}.\n{_tail(log) if log else ''}")
        if time.monotonic() > deadline:
            sys.exit(f"TabRL: {what} did not answer at {url} within {timeout:.0f} s."
                     + (f" Its log: {log}" if log else ""))
        if time.monotonic() - last_note > 20:
            print(f"  ... still waiting for {what}", flush=True)
            last_note = time.monotonic()
        time.sleep(1.0)
    return True


def _stop(process: subprocess.Popen | None, grace: float = 30.0) -> None:
    """Ctrl-C to the process's own group (Ray shuts down cleanly), then SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _still_stopping(*_) -> None:
    print("TabRL: still stopping the API (at most about 45 s)...", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make up", description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("TABRL_API_PORT", 8000)))
    parser.add_argument("--ui-port", type=int, default=int(os.environ.get("TABRL_UI_PORT", 8501)))
    args = parser.parse_args(argv)
    # Ctrl-C, or a `kill`, stops both (SIGINT explicitly too: a shell may start us with it ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    from tabrl.settings import data_dir

    external = os.environ.get("TABRL_API_URL", "").rstrip("/")
    api = external or f"http://127.0.0.1:{args.api_port}"
    server: subprocess.Popen | None = None
    ui: subprocess.Popen | None = None
    log = data_dir() / "serve.log"
    try:
        if external and not _answers(f"{api}/api/health"):
            sys.exit(f"TabRL: TABRL_API_URL is {api}, but no TabRL API answers there; "
                     "unset it to start one here.")
        # The UI starts at once, next to the API: while the API starts, the page says so and waits for it.
        env = {**os.environ, "TABRL_API_URL": api}
        ui = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(HERE / "app.py"), "--server.port", str(args.ui_port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            env=env, start_new_session=True)
        if _answers(f"{api}/api/health"):
            print(f"TabRL: using the API already running at {api}", flush=True)
        else:
            print(f"TabRL: starting the API (tabrl serve --port {args.api_port}); log: {log}", flush=True)
            for attempt in range(1, START_ATTEMPTS + 1):
                start = log.stat().st_size if log.exists() else 0
                with log.open("ab") as out:
                    server = subprocess.Popen([str(BIN / "tabrl"), "serve", "--port", str(args.api_port)],
                                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                              env={**os.environ, "TABRL_WARM": os.environ.get("TABRL_WARM", WARM)})
                if _wait(f"{api}/api/health", server, "the API", API_START_TIMEOUT, log, start,
                         retry=attempt < START_ATTEMPTS):
                    break
                print(f"  Ray did not start in time on a busy machine; trying again ({attempt + 1}/"
                      f"{START_ATTEMPTS})", flush=True)
            print(f"TabRL: the API answers at {api}", flush=True)
        _wait(f"http://127.0.0.1:{args.ui_port}/_stcore/health", ui, "the UI", 120.0, None)
        url = f"http://localhost:{args.ui_port}"
        print("\n" + "=" * 64 + f"\n  🤖 TabRL is up: open {url}\n" + "=" * 64 + "\n  Ctrl-C stops the UI and the API.\n",
              flush=True)
        return ui.wait()
    except KeyboardInterrupt:
        print("\nTabRL: stopping...", flush=True)
        return 0
    finally:
        # A second Ctrl-C (or a kill) while stopping must not cut the stop short: that
        # printed a traceback and skipped the API's SIGTERM/SIGKILL escalation.
        signal.signal(signal.SIGINT, _still_stopping)
        signal.signal(signal.SIGTERM, _still_stopping)
        _stop(ui, grace=5.0)
        _stop(server)


if __name__ == "__main__":
    sys.exit(main())
