"""End to end in a real headless Chromium: from picking a model to three synchronized videos and a download.

Debian's `chromium` driven by Playwright for Python (`executable_path`): browsers
cannot be downloaded here, so the set-up installs Debian's package when
/usr/bin/chromium is missing (CI runs as root on Debian). The page talks to a
real `tabrl serve` (tests/serve_fixture.py) that really trains: CartpoleBalance,
2,000 steps, 320x240 videos. Screenshots go to build/test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_fixture import api_server as _session_api_server  # noqa: F401  (a pytest fixture)
from serve_fixture import free_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "build" / "test-artifacts"
CHROMIUM = Path(os.environ.get("TABRL_CHROMIUM", "/usr/bin/chromium"))
TRAINING_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def api_server(request) -> str:
    """The session's `tabrl serve`, or the running API named by TABRL_TEST_API_URL."""
    return os.environ.get("TABRL_TEST_API_URL") or request.getfixturevalue("_session_api_server")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing (needs root)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"the browser test needs {CHROMIUM}: run `sudo apt-get install -y chromium` "
                    "(Playwright's own browser downloads are not used)")
    packages = ["chromium", "fonts-noto-color-emoji"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # a fresh image has no package lists yet
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(f"could not install Debian's chromium for the browser test ({' '.join(install)}):\n"
                    f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def ui_server(api_server) -> str:
    """`streamlit run streamlit_ui/app.py` on a free port, talking to the test API."""
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "ui-streamlit.log"
    env = {**os.environ, "TABRL_API_URL": api_server}
    env.pop("TABRL_PUBLIC_API_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_ui" / "app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


VIDEO_STATE = """() => Array.from(document.querySelectorAll('video')).map(v => ({
    ready: v.readyState, time: v.currentTime, paused: v.paused, duration: v.duration,
    src: v.currentSrc.slice(0, 30), error: v.error ? v.error.code : null}))"""


def player_frame(page):
    """The iframe of the synchronized player (the frame holding the <video> elements)."""
    for element in page.locator("iframe").element_handles():
        try:
            frame = element.content_frame()
            if frame is not None and frame.evaluate("document.querySelectorAll('video').length") == 3:
                return frame
        except Exception:  # an iframe that is being replaced by a rerun
            continue
    return None


def job_status(api: str, job_id: str) -> dict:
    return httpx.get(f"{api}/api/training/jobs/{job_id}", timeout=30).json()


@pytest.mark.slow
def test_from_model_to_three_synchronized_videos_and_a_download(chromium, ui_server, api_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium),
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
        page.set_default_timeout(60_000)
        try:
            page.goto(ui_server)
            expect(page.get_by_text("Pick a robot")).to_be_visible(timeout=120_000)

            # 1. the model: search, then click its card's button
            page.get_by_placeholder("search robots").fill("CartpoleBalance")
            page.keyboard.press("Enter")
            page.locator(".st-key-pick_CartpoleBalance button").click()
            expect(page.locator(".st-key-pick_CartpoleBalance button")).to_contain_text("Selected")

            # 2. an example prompt, one click
            page.locator(".st-key-example_2 button").click()
            expect(page.locator(".st-key-prompt textarea")).to_have_value("Pretend you're a happy puppy")

            # 3. a tiny budget: the slider's first stop is 1,000 steps, the next 2,000
            slider = page.locator(".st-key-steps input[type=range]")
            slider.focus()
            page.keyboard.press("Home")
            page.keyboard.press("ArrowRight")
            expect(page.get_by_text("2,000 steps per approach")).to_be_visible()
            # small videos: quicker to render on a 2-core CPU
            page.get_by_text("Video options").click()
            page.locator(".st-key-video_size").get_by_text("320×240 (fast)").click()
            expect(page.locator(".st-key-video_size input[type=radio]").first).to_be_checked()

            # 4. train; the job id lands in the URL
            page.locator(".st-key-train button").click()
            page.wait_for_url("**/?job=*", timeout=120_000)
            job_id = page.url.split("job=")[1].split("&")[0]
            expect(page.locator(".st-key-job_header")).to_contain_text("Pretend you're a happy puppy")
            page.screenshot(path=str(ARTIFACTS / "ui-e2e-training.png"))

            # 5. a refresh keeps the job
            page.reload()
            expect(page.locator(".st-key-job_header")).to_contain_text("Pretend you're a happy puppy",
                                                                     timeout=120_000)
            assert f"job={job_id}" in page.url

            # 6. wait for three loaded <video>s (failing fast if the job fails)
            deadline = time.monotonic() + TRAINING_TIMEOUT_S
            frame, states = None, []
            while time.monotonic() < deadline:
                frame = player_frame(page)
                if frame is not None:
                    states = frame.evaluate(VIDEO_STATE)
                    if len(states) == 3 and all(s["ready"] >= 2 for s in states):
                        break
                job = job_status(api_server, job_id)
                if job["status"] in ("failed", "interrupted"):
                    page.screenshot(path=str(ARTIFACTS / "ui-e2e-failed.png"))
                    pytest.fail(f"job {job_id} {job['status']}: {job.get('error')} "
                                f"{[t.get('error') for t in job['trials']]}")
                time.sleep(2)
            else:
                page.screenshot(path=str(ARTIFACTS / "ui-e2e-timeout.png"))
                pytest.fail(f"no three loaded videos within {TRAINING_TIMEOUT_S} s; last: {states}; "
                            f"job: {job_status(api_server, job_id)['status']}")
            assert all(s["error"] is None for s in states), states

            # 7. in sync: playing together, one control pauses and seeks all three
            time.sleep(2)
            states = frame.evaluate(VIDEO_STATE)
            times = [s["time"] for s in states]
            assert max(times) - min(times) < 0.25, states
            assert not any(s["paused"] for s in states), states
            frame.locator("#play").click()
            time.sleep(0.5)
            states = frame.evaluate(VIDEO_STATE)
            assert all(s["paused"] for s in states), states
            frame.locator("#seek").fill("500")  # half way, dispatches input + change
            time.sleep(1)
            states = frame.evaluate(VIDEO_STATE)
            times = [s["time"] for s in states]
            half = states[0]["duration"] / 2
            assert all(abs(t - half) < 0.25 for t in times), states
            frame.locator("#play").click()
            page.screenshot(path=str(ARTIFACTS / "ui-e2e-videos.png"), full_page=True)

            # 8. downloads: one approach's video and the composite are real MP4s
            for key in ("download_0", "download_composite"):
                with page.expect_download(timeout=120_000) as info:
                    page.locator(f".st-key-{key} button").click()
                data = Path(info.value.path()).read_bytes()
                assert data[4:8] == b"ftyp" and len(data) > 1_000, (key, len(data))
                assert info.value.suggested_filename.endswith(".mp4")

            # 9. a favourite, saved by the API: it is still there after a reload
            page.locator(".st-key-fav_1 button").click()
            expect(page.locator(".st-key-fav_1 button")).to_contain_text("Favourite")
            assert job_status(api_server, job_id)["favourite"] == 1
            page.reload()
            expect(page.locator(".st-key-fav_1 button")).to_contain_text("Favourite", timeout=120_000)
            page.screenshot(path=str(ARTIFACTS / "ui-e2e.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "ui-e2e-error.png"), full_page=True)
            raise
        finally:
            browser.close()
