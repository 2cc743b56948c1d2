"""`tabrl serve`: the API on an embedded local Ray (or the cluster at RAY_ADDRESS), until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
import time
import urllib.request


def serve_forever(host: str = "127.0.0.1", port: int = 8000, ready_timeout: float = 300.0) -> None:
    from ray import serve

    from tune_jobs.batch import ensure_ray

    ensure_ray()
    from serve_app.app import APP_NAME, build_app

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(), name=APP_NAME, route_prefix="/", blocking=False)
    url = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}"
    _wait_healthy(url, ready_timeout, stop)
    print(f"TabRL API ready on {url}  (docs: {url}/docs, Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        print("stopping TabRL API...", file=sys.stderr, flush=True)
        serve.shutdown()
        import ray

        ray.shutdown()


def _wait_healthy(url: str, timeout: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    if not stop.is_set():
        raise RuntimeError(f"the API did not answer {url}/api/health within {timeout:.0f} s")
