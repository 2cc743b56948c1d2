"""A newcomer's first run: `make up` (`python -m streamlit_ui.up`) with an empty data folder,
no TABRL_MENAGERIE_DIR and no way to download anything, then the printed page in a real
headless Chromium. Within a minute of opening it the robot grid shows the Go1 ready and
preselected, with thumbnails, the example prompts and the step presets; no error banner
appears at any moment on the way. Then, offline, picking a robot that is not shipped says
why it cannot be downloaded and what to do, without an error banner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.serve_fixture import REPO, free_port
from tests.test_ui_browser import ARTIFACTS, chromium  # noqa: F401  (a pytest fixture)

UP_TIMEOUT_S = 600
PAGE_TIMEOUT_S = 60
ERROR_BANNER = '[data-testid="stAlertContentError"], [data-testid="stException"]'


def _ready(page) -> dict:
    return page.evaluate("""() => ({
        go1: !!document.querySelector('[class*="st-key-model_sel_Go1JoystickFlatTerrain"]'),
        go1_button: (document.querySelector('.st-key-pick_Go1JoystickFlatTerrain button') || {}).innerText || '',
        images: document.querySelectorAll('[class*="st-key-model_"] img').length,
        prompt: (document.querySelector('.st-key-example_0 button') || {}).innerText || '',
        presets: ['Quick', 'Standard', 'Quality'].filter(
            n => document.querySelector('.st-key-preset_' + n + ' button')).length,
    })""")


@pytest.mark.slow
def test_first_run_shows_the_go1_ready_with_thumbnails_prompts_and_presets(chromium, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    api_port, ui_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TABRL_DATA_DIR", "TABRL_MENAGERIE_DIR", "TABRL_API_URL", "TABRL_JOB_STORE")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # empty: no catalog cache, no thumbnails, no meshes
    env["MENAGERIE_BASE_URL"] = "http://127.0.0.1:9/offline"  # any download would fail at once
    log = tmp_path / "up.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "streamlit_ui.up", "--api-port", str(api_port),
                               "--ui-port", str(ui_port)], cwd=REPO, env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ui_port}"
    try:
        while True:  # open the page as soon as the UI answers, as a person clicking the link would
            assert up.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() - started < UP_TIMEOUT_S, "make up did not start the UI"
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        ui_up = time.monotonic() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            try:
                opened = time.monotonic()
                page.goto(url)
                state = {}
                while time.monotonic() - opened < PAGE_TIMEOUT_S:
                    banners = page.locator(ERROR_BANNER)
                    if banners.count():
                        page.screenshot(path=str(ARTIFACTS / "first-run-error.png"))
                        pytest.fail(f"an error banner appeared: {banners.first.inner_text()[:500]}")
                    state = _ready(page)
                    if (state["go1"] and "Selected" in state["go1_button"] and state["images"] >= 5
                            and "Keep shaking your hips" in state["prompt"] and state["presets"] == 3):
                        break
                    time.sleep(0.5)
                else:
                    page.screenshot(path=str(ARTIFACTS / "first-run-timeout.png"))
                    pytest.fail(f"not ready {PAGE_TIMEOUT_S} s after opening the page: {state}")
                page_ready = time.monotonic() - opened
                page.screenshot(path=str(ARTIFACTS / "first-run.png"))

                # Offline, a robot that is not shipped: one sentence and the fix, in seconds, no banner.
                page.get_by_placeholder("search robots").fill("G1JoystickFlat")
                page.keyboard.press("Enter")
                page.locator(".st-key-fetch_G1JoystickFlatTerrain button").click()
                card = page.locator('[class*="st-key-model_"][class*="G1JoystickFlatTerrain"]')
                card.get_by_text("no internet connection").wait_for(timeout=30_000)
                assert "TABRL_MENAGERIE_DIR" in card.inner_text()
                assert page.locator(ERROR_BANNER).count() == 0
                page.screenshot(path=str(ARTIFACTS / "first-run-offline-fetch.png"))
            finally:
                browser.close()
        total = time.monotonic() - started
        print(f"\nfirst run: UI answered {ui_up:.1f} s after `make up`; page complete {page_ready:.1f} s after "
              f"opening it; {total:.1f} s from `make up` to a complete page")
        (ARTIFACTS / "first-run-timing.txt").write_text(
            f"ui_up_s={ui_up:.1f}\npage_ready_s={page_ready:.1f}\ntotal_s={total:.1f}\n")
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
    downloads = tmp_path / "xdg" / "tabrl" / "menagerie"  # nothing downloaded, nothing half-written
    assert not downloads.exists() or [p.name for p in downloads.iterdir() if not p.name.startswith(".lock-")] == []
