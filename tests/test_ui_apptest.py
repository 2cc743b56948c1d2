"""The Streamlit page's logic with Streamlit's AppTest, against a real `tabrl serve`.

AppTest runs `streamlit_ui/app.py` in this process without a browser; the page
talks HTTP to the session's API server (tests/serve_fixture.py). Nothing here
trains: the end-to-end run is tests/test_ui_browser.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from serve_fixture import api_server as _session_api_server  # noqa: F401  (a pytest fixture)
from streamlit.testing.v1 import AppTest

from serve_app.schemas import Estimate, JobList, JobView, ModelList, RenderOptions, TrialView
from serve_app.store import JobStore, mark_cancelled
from streamlit_ui import logic

APP = Path(__file__).resolve().parents[1] / "streamlit_ui" / "app.py"


@pytest.fixture(scope="module")
def api_server(request) -> str:
    """The session's `tabrl serve`, or the running API named by TABRL_TEST_API_URL."""
    return os.environ.get("TABRL_TEST_API_URL") or request.getfixturevalue("_session_api_server")


@pytest.fixture
def app(api_server, monkeypatch) -> AppTest:
    monkeypatch.setenv("TABRL_API_URL", api_server)
    monkeypatch.delenv("TABRL_PUBLIC_API_URL", raising=False)
    return AppTest.from_file(str(APP), default_timeout=120)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def models(api_server: str) -> list:
    return ModelList.model_validate(httpx.get(f"{api_server}/api/playground/models", timeout=60).json()).models


def pick_keys(at: AppTest) -> list[str]:
    """Every model card's button: Pick, or Download and pick for a robot whose meshes are not here."""
    return [b.key.split("_", 1)[1] for b in at.button if b.key and b.key.startswith(("pick_", "fetch_"))]


def select(at: AppTest, model_id: str) -> AppTest:
    at.text_input(key="model_search").input(model_id).run()
    at.button(key=f"pick_{model_id}").click()
    return run(at)


def test_model_grid_puts_go1_first_and_preselects_it(app, api_server):
    catalog = models(api_server)
    run(app)
    expected = logic.default_model_id(catalog)
    go1 = next(m for m in catalog if m.id == logic.HERO_MODEL)
    if go1.available:
        assert expected == logic.HERO_MODEL
    assert pick_keys(app)[0] == logic.HERO_MODEL
    assert app.session_state["model_id"] == expected
    chosen = app.button(key=f"pick_{expected}")
    assert chosen.disabled and "Selected" in chosen.label

    app.toggle(key="show_all_models").set_value(True)
    run(app)
    assert sorted(pick_keys(app)) == sorted(m.id for m in catalog)
    captions = " ".join(c.value for c in app.caption)
    for model in catalog:
        if model.meshes_missing:
            assert app.button(key=f"fetch_{model.id}").label == "⬇️ Download and pick"
            continue
        assert app.button(key=f"pick_{model.id}").disabled == (not model.available or model.id == expected)
        if not model.available:
            assert model.unavailable_reason and model.unavailable_reason in captions  # greyed out, with why
    dofs = [m for m in catalog if m.dof]
    assert dofs and f"{dofs[0].dof} DoF" in captions


def test_example_chips_and_surprise_fill_the_prompt(app):
    run(app)
    assert [app.button(key=f"example_{i}").label.removeprefix("💬 ") for i in range(5)] == \
        list(logic.EXAMPLE_PROMPTS)
    app.button(key="example_3").click()
    run(app)
    assert app.text_area(key="prompt").value == "Walk like you're on the moon"
    app.button(key="surprise").click()
    run(app)
    surprise = app.text_area(key="prompt").value
    assert surprise != "Walk like you're on the moon"
    assert surprise in logic.SURPRISE_PROMPTS + logic.EXAMPLE_PROMPTS


def test_step_presets_show_the_apis_own_estimates(app, api_server):
    run(app)
    select(app, "CartpoleBalance")
    presets = logic.presets_for(next(m for m in models(api_server) if m.id == "CartpoleBalance"))
    for name, steps in presets.items():
        body = httpx.get(f"{api_server}/api/training/estimate",
                         params={"model_id": "CartpoleBalance", "num_steps": steps}, timeout=30).json()
        estimate = Estimate.model_validate(body["estimate"])
        label = app.button(key=f"preset_{name}").label
        assert label == logic.preset_label(name, steps, estimate)
        if estimate.seconds is None:
            assert label.endswith("not measured yet")  # never an invented time
    assert app.select_slider(key="steps").value == presets["Quick"]
    app.button(key="preset_Standard").click()
    run(app)
    assert app.select_slider(key="steps").value == presets["Standard"]
    app.select_slider(key="steps").set_value(2_000)
    run(app)
    assert any("2,000 steps per approach" in c.value for c in app.caption)
    # CartpoleBalance has no base policy: the page says it trains from scratch.
    assert any("From scratch" in m.value for m in app.markdown)


def test_propose_shows_three_editable_approaches_and_regenerates(app):
    run(app)
    select(app, "CartpoleBalance")
    app.button(key="example_4").click()
    run(app)
    app.button(key="propose").click()
    run(app)
    assert not app.error, [e.value for e in app.error]
    proposal = app.session_state["proposal"]
    approaches = proposal["response"].approaches
    assert len(approaches) == 3
    page = " ".join(m.value for m in app.markdown)
    for approach in approaches:
        assert approach.name in page
        for term in approach.reward.terms:
            assert logic.term_chip(term.name, term.weight) in page  # the term and its weight as a chip
    first = approaches[0].reward.terms[0]
    new_weight = -2.5 if first.weight > 0 else 2.5
    app.number_input(key=f"w_{proposal['round']}_0_{first.name}").set_value(new_weight)
    run(app)
    assert logic.term_chip(first.name, new_weight) in " ".join(m.value for m in app.markdown)
    assert any("weights edited" in c.value for c in app.caption)
    assert "Regenerate" in app.button(key="propose").label
    app.button(key="propose").click()
    run(app)
    again = app.session_state["proposal"]
    assert again["round"] == proposal["round"] + 1 and again["variant"] == 1
    first_names = [a.name for a in approaches]
    new_names = [a.name for a in again["response"].approaches]
    assert not set(new_names) & set(first_names) and not again["same_again"]  # three other readings
    headings = [m.value for m in app.markdown if m.value.startswith("#### ")]  # the approach cards' titles
    assert headings == [f"#### {number} {name}" for number, name in zip(("1️⃣", "2️⃣", "3️⃣"), new_names)]
    assert any("Take 2" in c.value for c in app.caption)
    app.button(key="propose").click()
    run(app)
    third = app.session_state["proposal"]
    assert third["variant"] == 2 and [a.name for a in third["response"].approaches] != new_names


def demo_job(api_server: str):
    jobs = JobList.model_validate(httpx.get(f"{api_server}/api/training/jobs", timeout=30).json()).jobs
    demos = [job for job in jobs if job.demo and job.status == "succeeded"]
    assert demos, "the API lists no demo job: it should serve the committed demos/ folder"
    return demos[0]


def test_a_job_in_the_url_shows_synchronized_videos_downloads_and_favourite(app, api_server):
    job = demo_job(api_server)
    app.query_params["job"] = job.job_id
    run(app)
    assert any(job.prompt in m.value for m in app.markdown)
    players = [el for el in app.get("iframe")]
    assert len(players) == 1
    html = players[0].proto.srcdoc
    assert html.count("<video ") == 3 and html.count("data:video/mp4;base64,") == 3
    for trial in job.trials:
        assert trial.name.replace("'", "&#x27;") in html or trial.name in html
    downloads = app.get("download_button")
    assert len(downloads) == 4  # one per approach and the side-by-side composite
    assert job.stages, "the newest demo records where its time went"
    assert any(c.value.startswith("⏱️ Where the time went: start ") for c in app.caption)
    app.button(key="fav_1").click()
    run(app)
    # Demo jobs are read-only on the server (409), so their favourite lives in the URL.
    assert app.query_params["fav"] == ["1"] or app.query_params["fav"] == "1"
    assert "⭐" in app.get("iframe")[0].proto.srcdoc
    assert "Favourite" in app.button(key="fav_1").label
    assert not [b for b in app.button if b.key == "evolve"]  # a demo has no checkpoints to evolve
    app.button(key="fav_1").click()  # again: cleared
    run(app)
    assert "fav" not in app.query_params and "⭐" not in app.get("iframe")[0].proto.srcdoc
    refused = httpx.put(f"{api_server}/api/training/jobs/{job.job_id}/favourite", json={"approach": 1}, timeout=30)
    assert refused.status_code == 409 and "demo" in refused.json()["detail"]


def test_demo_results_show_before_anything_is_trained(app, api_server):
    jobs = JobList.model_validate(httpx.get(f"{api_server}/api/training/jobs", timeout=30).json()).jobs
    run(app)
    history = [b.key for b in app.button if b.key and b.key.startswith("history_")]
    assert history == [f"history_{job.job_id}" for job in jobs[:25]]
    if all(job.demo for job in jobs):
        assert any("Made earlier" in h.value for h in app.subheader)
        assert len(app.get("iframe")) == 1


def test_an_unknown_job_says_so(app):
    app.query_params["job"] = "20000101-000000-000000"
    run(app)
    assert app.error and "20000101-000000-000000" in app.error[0].value


def test_an_api_that_is_not_up_yet_is_waited_for_then_explained(monkeypatch):
    """Starting: no error, a note that keeps retrying; after 90 s without an answer, what to do."""
    monkeypatch.setenv("TABRL_API_URL", "http://127.0.0.1:9")
    at = run(AppTest.from_file(str(APP), default_timeout=60))
    assert not at.error
    assert "waiting for the API" in at.info[0].value
    at.session_state["api_down_since"] = time.monotonic() - 120
    run(at)
    assert "has not answered" in at.error[0].value and "make up" in at.error[0].value


def test_the_favourite_of_a_trained_job_is_saved_through_the_api(app, api_server, request):
    if os.environ.get("TABRL_TEST_API_URL"):
        pytest.skip("needs the session's own job store to hold a finished job")
    store = JobStore(request.getfixturevalue("api_job_store"))
    job = finished_job()
    store.create(job)  # as if trained here: nothing in this file trains
    api_job = f"{api_server}/api/training/jobs/{job.job_id}"
    app.query_params["job"] = job.job_id
    run(app)
    assert [app.button(key=f"fav_{i}").label for i in range(3)] == ["☆ Mark as favourite"] * 3
    app.button(key="fav_2").click()
    run(app)
    assert httpx.get(api_job, timeout=30).json()["favourite"] == 2  # the API has it, not only this page
    assert "Favourite" in app.button(key="fav_2").label and "fav" not in app.query_params
    assert "⭐" in app.button(key=f"history_{job.job_id}").label  # the history shows a star
    # Evolve the favourite: this job was never trained here, so the API refuses and the page says why.
    assert "Approach 2" in app.button(key="evolve").label
    app.button(key="evolve").click()
    run(app)
    assert any("Could not evolve it" in e.value and "no trained checkpoint" in e.value for e in app.error)
    assert app.query_params["job"] in ([job.job_id], job.job_id)  # still on this job
    fresh = AppTest.from_file(str(APP), default_timeout=120)  # another browser: only the job in the URL
    fresh.query_params["job"] = job.job_id
    run(fresh)
    assert "Favourite" in fresh.button(key="fav_2").label
    app.button(key="fav_2").click()  # clicking the favourite again clears it
    run(app)
    assert httpx.get(api_job, timeout=30).json()["favourite"] is None
    assert app.button(key="fav_2").label == "☆ Mark as favourite"
    assert "⭐" not in app.button(key=f"history_{job.job_id}").label


def test_a_running_job_is_cancelled_from_the_page(app, api_server, request):
    if os.environ.get("TABRL_TEST_API_URL"):
        pytest.skip("needs the session's own job store to hold a running job")
    store = JobStore(request.getfixturevalue("api_job_store"))
    job = finished_job()
    job.status, job.stage, job.finished_at = "training", "training 3 approaches in parallel", None
    for trial in job.trials:
        trial.status, trial.env_steps, trial.fraction = "running", 500, 0.25
    store.create(job)  # as if it trained here (its trials stopping for real: tests/test_serve.py)
    try:
        app.query_params["job"] = job.job_id
        run(app)
        cancel = app.button(key="cancel")
        assert "Cancel" in cancel.label and not cancel.disabled
        cancel.click()
        run(app)
        assert not app.error, [e.value for e in app.error]
        view = httpx.get(f"{api_server}/api/training/jobs/{job.job_id}", timeout=30).json()
        assert view["status"] == "training" and view["stage"].startswith("cancelling")  # asked, through the API
        assert store.cancel_requested(job.job_id)
        store.update(job.job_id, mark_cancelled)  # what the runner does once the trials have stopped
        run(app)
        assert any("cancelled" in w.value for w in app.warning)
        assert not [b for b in app.button if b.key == "cancel"]  # a finished job has nothing to cancel
    finally:
        store.update(job.job_id, lambda view: None if view.status == "cancelled" else mark_cancelled(view))


def finished_job() -> JobView:
    from tabrl.job_layout import new_job_id

    trials = [TrialView(index=i, name=f"Approach {i}", description="d", status="succeeded", num_steps=2000,
                        fraction=1.0, env_steps=2000) for i in range(3)]
    return JobView(job_id=new_job_id(), model_id="CartpoleBalance", prompt="Pick a favourite", num_steps=2000,
                   use_base_policy=False, base_policy=False, status="succeeded", stage="done: 3 of 3",
                   created_at=time.time(), finished_at=time.time(), render=RenderOptions(), trials=trials)
