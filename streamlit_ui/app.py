"""TabRL's page: pick a robot, type a prompt, train three reward approaches, watch them side by side.

Run with `streamlit run streamlit_ui/app.py` (what `make up` does, next to `tabrl serve`).
The page talks only to the Serve HTTP API (`streamlit_ui.client`, `TABRL_API_URL`);
the decisions live in `streamlit_ui.logic`, the synchronized player in
`streamlit_ui.video_sync`, the live event stream in `streamlit_ui.live`.

State: the job a person is looking at is the `job` query parameter (a refresh
or a shared link keeps it); a job's favourite approach is kept by the API
(`PUT /api/training/jobs/{id}/favourite`), except on the read-only demo jobs,
where it is the `fav` query parameter; everything else is per-session widget state.
"""

from __future__ import annotations

import os
import time

import streamlit as st
import streamlit.components.v1 as components

from serve_app.schemas import JobView, ModelList
from streamlit_ui import logic
from streamlit_ui.client import ApiClient, ApiError, api_url
from streamlit_ui.live import WatcherRegistry
from streamlit_ui.video_sync import MAX_INLINE_BYTES, VideoTile, component_height, data_url, sync_player_html
from tabrl.catalog import ModelEntry
from tabrl.rewards.spec import Approach, field_range

st.set_page_config(page_title="TabRL · teach a robot a vibe", page_icon="🤖", layout="wide")

NUMBERS = ("1️⃣", "2️⃣", "3️⃣")
CSS = """<style>
div[class*="st-key-model_off_"] { opacity: .45; filter: grayscale(1); }
div[class*="st-key-model_sel_"] { outline: 3px solid #ff4b4b; outline-offset: -1px; border-radius: .6rem;
                                  box-shadow: 0 0 18px rgba(255, 75, 75, .25); }
div[class*="st-key-approach_"] { min-height: 100%; }
.tabrl-hero { font-size: 1.05rem; opacity: .8; margin-top: -.8rem; }
</style>"""


# --- shared, cached resources ---------------------------------------------------------


@st.cache_resource
def get_client(base_url: str) -> ApiClient:
    return ApiClient(base_url)


@st.cache_resource
def get_registry(base_url: str) -> WatcherRegistry:
    return WatcherRegistry(get_client(base_url))


client = get_client(api_url())
registry = get_registry(api_url())


class ModelsNotReady(Exception):
    """The API's model list is still loading, or meshes are downloading: not cached, asked again."""

    def __init__(self, listing: ModelList):
        super().__init__(listing.status.message)
        self.listing = listing


@st.cache_data(ttl=300, show_spinner=False)
def cached_listing(base_url: str) -> ModelList:
    listing = get_client(base_url).models()
    listing.models = logic.sort_models(listing.models)
    if listing.status.state == "loading" or any(f.state == "fetching" for f in listing.fetches):
        raise ModelsNotReady(listing)  # an exception is never cached
    return listing


def current_listing() -> ModelList:
    try:
        return cached_listing(api_url())
    except ModelsNotReady as pending:
        return pending.listing


def cached_models(base_url: str) -> list[ModelEntry]:
    return current_listing().models


@st.cache_data(show_spinner=False, max_entries=128)
def cached_thumbnail(base_url: str, model_id: str) -> bytes | None:
    return get_client(base_url).thumbnail(model_id)


@st.cache_data(ttl=20, show_spinner=False, max_entries=256)
def cached_estimate(base_url: str, model_id: str, num_steps: int):
    try:
        return get_client(base_url).estimate(model_id, num_steps).estimate
    except ApiError:
        return None


@st.cache_data(show_spinner=False, max_entries=24)
def cached_media(base_url: str, path: str, version: float | None) -> bytes:
    """A video's bytes (immutable per path and job finish time)."""
    return get_client(base_url).media(path)


# --- small state helpers ----------------------------------------------------------------


def open_job(job_id: str | None) -> None:
    st.query_params.clear()
    if job_id:
        st.query_params["job"] = job_id


def select_model(model_id: str, family: str) -> None:
    st.session_state.model_id = model_id
    presets = logic.presets_for(next((m for m in cached_models(api_url()) if m.id == model_id), None))
    st.session_state.steps = presets["Quick"]
    st.session_state.pop("proposal", None)


def fetch_meshes(model_id: str) -> None:
    """Ask the API to download the robot's meshes; the page follows the download, then picks it."""
    try:
        client.fetch_meshes(model_id)
    except ApiError as error:
        st.session_state.fetch_error = f"Could not start the download for {model_id}: {error}"
        return
    cached_listing.clear()
    st.session_state.pending_pick = model_id  # picked once its meshes are here (see `main`)


def set_prompt(text: str) -> None:
    st.session_state.prompt = text


def surprise() -> None:
    st.session_state.prompt = logic.surprise_prompt(st.session_state.get("prompt", ""))


def set_steps(steps: int) -> None:
    st.session_state.steps = steps


def set_favourite(job: JobView, index: int, current: int | None) -> None:
    choice = logic.toggled_favourite(current, index)
    if job.demo:  # demo jobs are read-only on the server: the URL keeps it
        if choice is None:
            st.query_params.pop("fav", None)
        else:
            st.query_params["fav"] = str(choice)
        return
    try:
        client.set_favourite(job.job_id, choice)
    except ApiError as error:
        st.session_state.favourite_error = (job.job_id, str(error))
    else:
        st.session_state.pop("favourite_error", None)


def evolve_favourite(job: JobView) -> None:
    try:
        accepted = client.evolve(job.job_id)
    except ApiError as error:
        st.session_state.evolve_error = (job.job_id, str(error))
    else:
        st.session_state.pop("evolve_error", None)
        open_job(accepted.job_id)


def cancel_job(job_id: str) -> None:
    try:
        client.cancel(job_id)
    except ApiError as error:
        st.session_state.cancel_error = (job_id, str(error))
    else:
        st.session_state.pop("cancel_error", None)


def video_source(path: str | None, job: JobView, budget: list[int]) -> str:
    """See `streamlit_ui.video_sync` for why bytes are proxied by default."""
    if not path:
        return ""
    public = os.environ.get("TABRL_PUBLIC_API_URL")
    if public:
        return public.rstrip("/") + path
    try:
        video = cached_media(api_url(), path, job.finished_at)
    except ApiError as error:
        st.warning(f"Could not fetch {path}: {error}")
        return ""
    if budget[0] + len(video) > MAX_INLINE_BYTES:
        return client.absolute(path)
    budget[0] += len(video)
    return data_url(video)


# --- page sections ------------------------------------------------------------------------


def sidebar(jobs: list[JobView], current: str | None) -> None:
    with st.sidebar:
        st.markdown("## 🤖 TabRL")
        st.button("✨ New run", on_click=open_job, args=(None,), width="stretch", type="primary",
                  key="new_run_sidebar")
        st.markdown("### 🗂️ History")
        if not jobs:
            st.caption("Nothing trained yet. Your runs will show up here.")
        for job in jobs[:25]:
            st.button(logic.history_label(job), key=f"history_{job.job_id}", on_click=open_job, args=(job.job_id,),
                      width="stretch", type="secondary" if job.job_id != current else "primary",
                      help=logic.job_subtitle(job))
            st.caption(logic.job_subtitle(job))


def model_card(model: ModelEntry, selected: bool) -> None:
    state = "sel" if selected else ("on" if model.available else "off")
    with st.container(border=True, key=f"model_{state}_{model.id}"):
        thumb = cached_thumbnail(api_url(), model.id)
        if thumb:
            st.image(thumb, width="stretch")
        st.markdown(f"**{model.name}**")
        st.caption(logic.model_facts(model))
        if model.base_policy:
            st.badge("base policy", icon="🎓", color="violet")
            if model.base_policy_source:
                st.caption(f"base: {model.base_policy_source}")
        fetch = st.session_state.get("mesh_fetches", {}).get(model.id)
        if fetch and fetch.state == "fetching":
            st.progress(fetch.done_bytes / fetch.total_bytes if fetch.total_bytes else 0.0,
                        text=f"⬇️ fetching meshes {logic.format_megabytes(fetch.done_bytes, fetch.total_bytes)}")
            return
        if fetch and fetch.state == "failed" and not model.available:
            st.caption(f"🚫 {fetch.error}")
        elif not model.available:
            st.caption(f"{'⬇️' if model.meshes_missing else '🚫'} {model.unavailable_reason or 'cannot run here'}")
        if model.meshes_missing and not model.available:
            st.button("⬇️ Download and pick", key=f"fetch_{model.id}", width="stretch", on_click=fetch_meshes,
                      args=(model.id,))
            return
        st.button("✅ Selected" if selected else "Pick", key=f"pick_{model.id}", width="stretch",
                  disabled=selected or not model.available, on_click=select_model, args=(model.id, model.family),
                  type="primary" if selected else "secondary")


def model_grid(models: list[ModelEntry]) -> ModelEntry | None:
    st.subheader("① Pick a robot")
    if "model_id" not in st.session_state:
        default = logic.default_model_id(models)
        if default:
            select_model(default, "")
    selected_id = st.session_state.get("model_id")
    left, right = st.columns([3, 2])
    families = [None, "locomotion", "dm_control_suite", "manipulation"]
    family = left.segmented_control(
        "Family", families, format_func=lambda f: "🌐 All" if f is None else logic.FAMILY_LABELS.get(f, f),
        key="family", label_visibility="collapsed")
    query = right.text_input("Search", key="model_search", placeholder="🔎 search robots (e.g. cartpole)",
                             label_visibility="collapsed")
    shown = logic.filter_models(models, family, query)
    show_all = bool(family or query) or st.session_state.get("show_all_models", False)
    if not show_all:
        shown = shown[:10]
    if not shown:
        st.info("No robot matches that search.")
    per_row = 5
    for start in range(0, len(shown), per_row):
        columns = st.columns(per_row)
        for column, model in zip(columns, shown[start:start + per_row]):
            with column:
                model_card(model, model.id == selected_id)
    if not (family or query):
        st.toggle(f"Show all {len(models)} models", key="show_all_models")
    return next((m for m in models if m.id == selected_id), None)


def prompt_section() -> str:
    st.subheader("② Tell it what to do")
    with st.container(horizontal=True, key="examples"):
        for i, example in enumerate(logic.EXAMPLE_PROMPTS):
            st.button(f"💬 {example}", key=f"example_{i}", on_click=set_prompt, args=(example,))
        st.button("🎲 Surprise me", key="surprise", on_click=surprise, type="tertiary")
    return st.text_area("Prompt", key="prompt", max_chars=500, height=80,
                        placeholder="Describe a behaviour, the sillier the better…",
                        label_visibility="collapsed").strip()


def steps_section(model: ModelEntry | None) -> tuple[int, bool, dict]:
    st.subheader("③ How long should it train?")
    model_id = model.id if model else None
    presets = logic.presets_for(model)
    if "steps" not in st.session_state:
        st.session_state.steps = presets["Quick"]
    with st.container(horizontal=True, key="presets"):
        for name, steps in presets.items():
            estimate = cached_estimate(api_url(), model_id, steps) if model_id else None
            st.button(logic.preset_label(name, steps, estimate), key=f"preset_{name}", on_click=set_steps,
                      args=(steps,), help=logic.estimate_help(estimate),
                      type="primary" if st.session_state.steps == steps else "secondary")
    if st.session_state.steps not in logic.STEP_OPTIONS:
        st.session_state.steps = logic.nearest_step_option(st.session_state.steps)
    steps = st.select_slider("Environment steps per approach", options=logic.STEP_OPTIONS, key="steps",
                             format_func=logic.format_steps)
    estimate = cached_estimate(api_url(), model_id, steps) if model_id else None
    if estimate is not None and estimate.seconds is None:
        st.caption(f"⏱️ {steps:,} steps per approach · time **{logic.NOT_MEASURED}** on this cluster "
                   f"({estimate.basis})")
    else:
        st.caption(f"⏱️ {steps:,} steps per approach · about **{logic.estimate_text(estimate).lstrip('~')}** "
                   "for all three in parallel, measured on this cluster", help=logic.estimate_help(estimate))
    has_base = bool(model and model.base_policy)
    use_base = st.toggle("🎓 Fine-tune from the base policy", value=has_base, disabled=not has_base,
                         key=f"use_base_{model_id}",
                         help="A base policy is a pre-trained controller: fine-tuning it makes small budgets "
                              "count. Without one, training starts from random weights.")
    st.markdown(logic.training_mode_text(model, use_base and has_base))
    with st.expander("🎥 Video options"):
        c1, c2, c3 = st.columns(3)
        size_label = c1.radio("Size", list(logic.VIDEO_SIZES), key="video_size",
                              index=list(logic.VIDEO_SIZES).index(logic.DEFAULT_VIDEO_SIZE))
        seconds = c2.slider("Seconds", 2, 30, 10, key="video_seconds")
        seed = c3.number_input("Initial-state seed", 0, 2**31 - 1, 0, key="video_seed",
                               help="All three videos start from this same initial state.")
    width, height = logic.VIDEO_SIZES[size_label]
    render = {"seconds": float(seconds), "fps": 30, "width": width, "height": height, "seed": int(seed)}
    return steps, use_base and has_base, render


def propose(model_id: str, prompt: str, steps: int) -> None:
    previous = st.session_state.get("proposal")
    variant = logic.next_variant(previous, model_id, prompt)  # Regenerate: the next variant
    try:
        with st.spinner("🧠 Thinking up three ways to read that…"):
            response = client.approaches(model_id, prompt, steps, variant=variant)
    except ApiError as error:
        st.session_state.propose_error = str(error)
        return
    st.session_state.pop("propose_error", None)
    same = previous is not None and previous["model_id"] == model_id and previous["prompt"] == prompt and \
        logic.same_approaches(previous["response"].approaches, response.approaches)
    st.session_state.proposal = {"model_id": model_id, "prompt": prompt, "response": response,
                                 "variant": variant, "round": st.session_state.get("proposal_round", 0) + 1,
                                 "same_again": same}
    st.session_state.proposal_round = st.session_state.proposal["round"]


def approaches_section(model: ModelEntry | None, prompt: str, steps: int) -> list[Approach] | None:
    st.subheader("④ Three ways to read it")
    proposal = st.session_state.get("proposal")
    stale = proposal is not None and (proposal["model_id"] != (model and model.id) or proposal["prompt"] != prompt)
    can = bool(model and model.available and prompt)
    label = "🔄 Regenerate" if proposal else "✨ Propose three approaches"
    if st.button(label, key="propose", disabled=not can):
        propose(model.id, prompt, steps)
        proposal = st.session_state.get("proposal")
        stale = False
    if st.session_state.get("propose_error"):
        st.error(st.session_state.propose_error, icon="🙅")
    if proposal is None:
        st.caption("Propose to see and tweak the three reward approaches first, or go straight to training: "
                   "the server then proposes them itself.")
        return None
    if stale:
        st.warning("The robot or the prompt changed since these were proposed: regenerate to match, "
                   "or train them as they are.", icon="🔁")
    response = proposal["response"]
    if proposal.get("same_again"):
        st.info("The proposer gave the same three again. Regenerate once more, reword the prompt, or "
                "edit the weights.", icon="🔁")
    elif proposal.get("variant"):
        st.caption(f"🔄 Take {proposal['variant'] + 1} on this prompt: Regenerate again for three more.")
    if response.source != "llm":
        st.caption(f"Proposed by the {response.source} library (no LLM key set)."
                   if response.source == "offline" else "Proposed from the fallback library.")
    for warning in response.warnings:
        st.info(warning, icon="ℹ️")
    edited: list[Approach] = []
    columns = st.columns(len(response.approaches))
    for i, (column, approach) in enumerate(zip(columns, response.approaches)):
        with column, st.container(border=True, key=f"approach_{i}"):
            st.markdown(f"#### {NUMBERS[i] if i < len(NUMBERS) else ''} {approach.name}")
            st.caption(approach.description)
            weights, command, pose = {}, {}, {}
            with st.expander("✏️ Edit weights"):
                for term in approach.reward.terms:
                    weights[term.name] = st.number_input(
                        term.name.replace("_", " "), min_value=-10.0, max_value=10.0, value=float(term.weight),
                        step=0.25, key=f"w_{proposal['round']}_{i}_{term.name}", help=_term_help(term))
                for key, held, edits in (("command", approach.reward.command, command),
                                         ("pose", approach.reward.pose, pose)):
                    if held is None:
                        continue
                    for field, info in type(held).model_fields.items():
                        low, high = field_range(type(held), field)
                        edits[field] = st.number_input(
                            f"{key}: {field}", min_value=low, max_value=high, value=float(getattr(held, field)),
                            step=0.01 if key == "pose" and field != "beat_hz" else 0.1,
                            key=f"{key[0]}_{proposal['round']}_{i}_{field}", help=info.description)
            st.markdown(logic.term_chips(approach.reward, weights))
            try:
                shown = logic.with_weights(approach, {}, command, pose).reward
            except ValueError:
                shown = approach.reward
            if logic.command_text(shown):
                st.caption(logic.command_text(shown))
            if logic.weights_edited(approach, weights, command, pose):
                st.caption("✏️ weights edited")
            st.caption(f"⏱️ {logic.estimate_text(approach.estimate)}", help=logic.estimate_help(approach.estimate))
            try:
                edited.append(logic.with_weights(approach, weights, command, pose))
            except ValueError as error:
                st.error(f"These weights are not valid: {error}")
                edited.append(Approach.model_validate(approach.model_dump(include={"name", "description",
                                                                                   "reward"})))
    return edited


def _term_help(term) -> str:
    from tabrl.rewards.summary import describe_term

    return describe_term(term)


def train_section(model: ModelEntry | None, prompt: str, steps: int, use_base: bool, render: dict,
                  approaches: list[Approach] | None) -> None:
    st.subheader("⑤ Train!")
    ready = bool(model and model.available and prompt)
    if not prompt:
        st.caption("Type a prompt or click an example first.")
    if st.button("🚀 Train all three", key="train", type="primary", disabled=not ready):
        try:
            accepted = client.submit_batch(model.id, prompt, steps, approaches=approaches,
                                           use_base_policy=use_base, render=render)
        except ApiError as error:
            if error.status == 429:
                wait = f" Try again in {logic.format_duration(error.retry_after)}." if error.retry_after else ""
                st.error(f"The training queue is full.{wait}", icon="🚦")
            else:
                st.error(str(error), icon="🙅")
            return
        open_job(accepted.job_id)
        st.rerun()


def trial_panel(trial) -> None:
    with st.container(border=True, key=f"trial_{trial.index}"):
        st.markdown(f"**{trial.name}**")
        st.caption(trial.description)
        st.progress(logic.trial_fraction(trial), text=logic.trial_line(trial))
        rows = logic.reward_curve_rows(trial)
        if len(rows) >= 2:
            st.line_chart(rows, x="env steps", y="episode reward", height=160)
        elif trial.status in ("pending", "running"):
            st.caption("📈 the reward curve appears after the first epochs")
        if trial.reward:
            st.markdown(logic.term_chips(trial.reward))
            if logic.command_text(trial.reward):
                st.caption(logic.command_text(trial.reward))
        if trial.error:
            st.error(trial.error)


@st.fragment(run_every=2.0)
def live_progress(job_id: str) -> None:
    """Re-runs every 2 s on its own; reads the watcher's newest JobView, never blocks."""
    watcher = registry.watch(job_id)
    view = watcher.latest()
    if view is None:
        try:
            view = client.job(job_id)
        except ApiError as error:
            st.error(str(error))
            return
    if logic.is_terminal(view):
        st.rerun(scope="app")
    header = st.columns([5, 1])
    header[0].markdown(f"**{logic.status_badge(view.status)}** · {view.stage}")
    header[1].button("🛑 Cancel", key="cancel", on_click=cancel_job, args=(job_id,), width="stretch",
                     disabled=not logic.can_cancel(view),
                     help="Stop this job: a queued job never starts; a running job's trials stop "
                          "(those already trained keep their checkpoints).")
    refused = st.session_state.get("cancel_error")
    if refused and refused[0] == job_id:
        st.error(f"Could not cancel it: {refused[1]}", icon="🙅")
    queue = logic.queue_text(view)
    if queue:
        st.info(queue)
    eta = logic.overall_eta(view)
    if view.status == "training":
        done = sum(t.env_steps for t in view.trials)
        total = sum(t.num_steps for t in view.trials) or 1
        text = f"training · {done:,} / {total:,} steps in all"
        text += f" · about {logic.format_duration(eta).lstrip('~')} left" if eta is not None else ""
        st.progress(min(1.0, done / total), text=text)
    elif view.estimated_seconds is not None and view.status in ("queued", "proposing"):
        st.caption(f"Once it starts: about {logic.format_duration(view.estimated_seconds).lstrip('~')}.")
    if view.trials:
        columns = st.columns(len(view.trials))
        for column, trial in zip(columns, view.trials):
            with column:
                trial_panel(trial)
    if watcher.error and not watcher.alive:
        st.caption(f"⚠️ live updates: {watcher.error}")


def results(view: JobView) -> None:
    favourite = logic.favourite_of(view, st.query_params.get("fav"))
    budget = [0]
    tiles = [VideoTile(src=video_source(t.video_url, view, budget), name=t.name, description=t.description,
                       favourite=t.index == favourite) for t in view.trials]
    if any(tile.src for tile in tiles):
        components.html(sync_player_html(tiles, aspect=view.render.width / view.render.height,
                                         fps=view.render.fps),
                        height=component_height(len(tiles), view.render.width / view.render.height))
    else:
        st.warning("No video came out of this job.")
    columns = st.columns(len(view.trials) or 1)
    for column, trial in zip(columns, view.trials):
        with column:
            if trial.video_url:
                st.download_button(
                    "⬇️ Download", data=_deferred(trial.video_url, view), file_name=logic.video_file_name(view, trial.index),
                    mime="video/mp4", key=f"download_{trial.index}", on_click="ignore", width="stretch")
            st.button("⭐ Favourite" if trial.index == favourite else "☆ Mark as favourite",
                      key=f"fav_{trial.index}", on_click=set_favourite, args=(view, trial.index, favourite),
                      width="stretch", type="primary" if trial.index == favourite else "secondary")
            behaviour_card(trial)
            if trial.error:
                st.error(trial.error)
    if logic.distinctness_text(view):
        st.caption(logic.distinctness_text(view))
    if logic.time_split_text(view):
        st.caption(logic.time_split_text(view))
    if view.evolved_from is not None:
        st.caption(f"🧬 Evolved from “{view.evolved_from.name}” (job {view.evolved_from.job_id}), "
                   "fine-tuned from its checkpoint toward the intents it missed.")
    if favourite is not None and not view.demo and view.trials[favourite].status == "succeeded":
        st.button(f"🧬 Evolve “{view.trials[favourite].name}”", key="evolve", on_click=evolve_favourite, args=(view,),
                  help="Three variants of your favourite, moved toward the intents its report says it missed, "
                       "each fine-tuned from its own checkpoint (a new job, same steps).")
        evolve_failed = st.session_state.get("evolve_error")
        if evolve_failed and evolve_failed[0] == view.job_id:
            st.error(f"Could not evolve it: {evolve_failed[1]}", icon="🙅")
    failed = st.session_state.get("favourite_error")
    if failed and failed[0] == view.job_id:
        st.error(f"Could not save the favourite: {failed[1]}", icon="🙅")
    if view.composite_url:
        st.download_button("🎞️ Download the side-by-side video", data=_deferred(view.composite_url, view),
                           file_name=logic.video_file_name(view, None), mime="video/mp4", key="download_composite",
                           on_click="ignore")
    with st.expander("📈 Training curves and reward terms"):
        columns = st.columns(len(view.trials) or 1)
        for column, trial in zip(columns, view.trials):
            with column:
                trial_panel(trial)


def behaviour_card(trial) -> None:
    """What the policy did in its video (the API's behaviour report), under the video."""
    for line in logic.behaviour_lines(trial):
        st.caption(line)
    rows = logic.motion_trace_rows(trial)
    if rows:
        st.line_chart(rows, x="seconds", height=140)


def _deferred(path: str, view: JobView):
    return lambda: cached_media(api_url(), path, view.finished_at)


def job_page(job_id: str) -> None:
    try:
        view = client.job(job_id)
    except ApiError as error:
        st.error(f"Job {job_id}: {error}", icon="🔍")
        st.button("✨ Start a new run", on_click=open_job, args=(None,))
        return
    top = st.columns([5, 1])
    with top[0], st.container(key="job_header"):
        st.markdown(f"## {logic.job_title(view)}")
        mode = "fine-tuned from the base policy" if view.base_policy else "trained from scratch"
        demo = " · 🎬 ready-made demo" if view.demo else ""
        st.caption(f"{view.model_id} · {view.num_steps:,} steps per approach · {mode}{demo}")
    top[1].button("✨ New run", on_click=open_job, args=(None,), key="new_run_top", width="stretch")
    if not logic.is_terminal(view):
        live_progress(job_id)
        return
    if view.status == "failed":
        st.error(view.error or "The job failed.", icon="💥")
    elif view.status == "cancelled":
        st.warning("The job was cancelled; approaches that had finished training are listed below.", icon="🛑")
    elif view.status == "interrupted":
        st.warning(view.error or "The job was interrupted (the server stopped while it ran).", icon="⏹️")
    else:
        st.success(f"Done! Three approaches, same initial state, playing in sync.{' 🎉' if not view.demo else ''}")
    results(view)


def demo_section(jobs: list[JobView]) -> None:
    demos = [job for job in jobs if job.demo and job.status == "succeeded"]
    if not demos or any(not job.demo for job in jobs):
        return
    st.divider()
    st.subheader("🎬 Made earlier with TabRL")
    st.caption("Ready-made results, trained by `python -m serve_app.demos` with the same pipeline. "
               "Yours will look like this.")
    demo = demos[0]
    st.markdown(f"**{logic.job_title(demo)}** · {logic.job_subtitle(demo)}")
    budget = [0]
    tiles = [VideoTile(src=video_source(t.video_url, demo, budget), name=t.name, description=t.description)
             for t in demo.trials]
    aspect = demo.render.width / demo.render.height
    components.html(sync_player_html(tiles, aspect=aspect, fps=demo.render.fps),
                    height=component_height(len(tiles), aspect))
    with st.container(horizontal=True):
        for other in demos:
            st.button(f"🎬 {logic.job_title(other)}", key=f"demo_{other.job_id}", on_click=open_job,
                      args=(other.job_id,))


def builder(models: list[ModelEntry], jobs: list[JobView]) -> None:
    model = model_grid(models)
    prompt = prompt_section()
    steps, use_base, render = steps_section(model)
    approaches = approaches_section(model, prompt, steps)
    train_section(model, prompt, steps, use_base, render, approaches)
    demo_section(jobs)


def api_waiting_message(error: ApiError) -> None:
    """The API does not answer: while it may be starting, say so; after a while, say what to do."""
    waited = time.monotonic() - st.session_state.setdefault("api_down_since", time.monotonic())
    if waited < 90:
        st.info(f"⏳ Starting TabRL: waiting for the API at {api_url()} ({waited:.0f} s)…")
    else:
        st.error(f"The TabRL API at {api_url()} has not answered for {waited:.0f} s. Start it with `make up` "
                 "(or `tabrl serve`); this page reconnects by itself once it answers.", icon="🔌")
        st.caption(f"Last error: {error}")


@st.fragment(run_every=2.0)
def wait_for_api() -> None:
    """Asks the API every 2 s; the whole page is drawn again once it answers."""
    try:
        client.health()
    except ApiError as error:
        api_waiting_message(error)
        return
    st.session_state.pop("api_down_since", None)
    st.rerun(scope="app")


def listing_signature(listing: ModelList) -> str:
    fetches = [(f.model_id, f.state, f.done_bytes) for f in listing.fetches]
    return repr((listing.status.state, listing.status.done, fetches))


@st.fragment(run_every=2.0)
def follow_models(shown: str) -> None:
    """While the model list loads or meshes download: the page is drawn again when that moves on."""
    try:
        listing = client.models()
    except ApiError:
        return
    if listing_signature(listing) != shown:
        cached_listing.clear()
        st.rerun(scope="app")


def main() -> None:
    st.html(CSS)
    st.title("🤖 TabRL")
    st.markdown('<p class="tabrl-hero">Type a vibe. Get three reward functions. Watch three robots learn it, '
                'side by side.</p>', unsafe_allow_html=True)
    try:
        health = client.health()
        jobs = client.jobs().jobs
    except ApiError as error:
        if error.status not in (None, 502, 503, 504):  # the API answered, with an error: a real failure
            st.error(f"The TabRL API answered with an error: {error}", icon="🔌")
            st.caption(f"TABRL_API_URL = {api_url()}")
            if st.button("🔄 Try again"):
                st.rerun()
            return
        wait_for_api()
        return
    st.session_state.pop("api_down_since", None)
    job_id = st.query_params.get("job")
    sidebar(jobs, job_id)
    with st.sidebar:
        st.caption(f"API {api_url()} · Ray {health.ray_cpus:g} CPU, {health.ray_gpus:g} GPU · "
                   f"{health.jobs_running} running, {health.jobs_queued} queued")
        for line in logic.warming_lines(health):
            st.caption(line)
    if job_id:
        job_page(job_id)
        return
    try:
        listing = current_listing()
    except ApiError as error:
        if error.status not in (None, 502, 503, 504):
            st.error(f"The model list could not be read: {error}", icon="🔌")
            return
        wait_for_api()
        return
    status = listing.status
    if status.state == "failed":
        st.error(status.message or "The model list could not be built; see the API's log.", icon="🧩")
    elif status.state == "loading":
        st.info(f"⏳ {status.message or 'Loading the model list'}…")
    if st.session_state.get("fetch_error"):
        st.warning(st.session_state.pop("fetch_error"), icon="⬇️")
    st.session_state.mesh_fetches = {f.model_id: f for f in listing.fetches}
    pending = st.session_state.get("pending_pick")
    if pending:
        entry = next((m for m in listing.models if m.id == pending), None)
        fetch = st.session_state.mesh_fetches.get(pending)
        if entry is not None and entry.available:
            select_model(entry.id, entry.family)
        if entry is None or entry.available or (fetch and fetch.state == "failed"):
            st.session_state.pop("pending_pick")
    if status.state == "loading" or any(f.state == "fetching" for f in listing.fetches):
        follow_models(listing_signature(listing))
    if listing.models:
        builder(listing.models, jobs)

main()
