"""The UI's pure helpers (no server, no browser): fast."""

from __future__ import annotations

import random

import pytest

from serve_app.schemas import Estimate, JobView, RenderOptions, TrialView
from streamlit_ui import logic
from streamlit_ui.client import parse_sse
from streamlit_ui.video_sync import VideoTile, data_url, sync_player_html
from tabrl.catalog import ModelEntry
from tabrl.rewards.spec import Approach, RewardSpec, Term


def model(id_, family="dm_control_suite", available=True, **kw) -> ModelEntry:
    return ModelEntry(id=id_, name=id_, family=family, description="", available=available, **kw)


def test_go1_comes_first_then_models_that_can_run():
    models = [model("Zebra"), model("Broken", available=False, unavailable_reason="no meshes"),
              model("Go1JoystickFlatTerrain", family="locomotion"), model("Apple")]
    assert [m.id for m in logic.sort_models(models)] == ["Go1JoystickFlatTerrain", "Apple", "Zebra", "Broken"]
    assert logic.default_model_id(models) == "Go1JoystickFlatTerrain"
    no_go1 = [model("Broken", available=False), model("CartpoleBalance")]
    assert logic.default_model_id(no_go1) == "CartpoleBalance"


def test_search_and_family_filter():
    models = [model("CartpoleBalance"), model("Go1JoystickFlatTerrain", family="locomotion")]
    assert [m.id for m in logic.filter_models(models, None, "walker")] == []
    assert [m.id for m in logic.filter_models(models, None, "cart pole")] == ["CartpoleBalance"]
    assert [m.id for m in logic.filter_models(models, None, "cartpole")] == ["CartpoleBalance"]
    assert [m.id for m in logic.filter_models(models, "locomotion", "")] == ["Go1JoystickFlatTerrain"]


def test_unmeasured_time_is_never_invented():
    unmeasured = Estimate(seconds=None, measured_trials=0, basis="no trial of CartpoleBalance has finished here")
    assert logic.estimate_text(unmeasured) == "not measured yet"
    assert logic.estimate_text(None) == "not measured yet"
    label = logic.preset_label("Quick", 20_000, unmeasured)
    assert label == "⚡ Quick · 20k steps · not measured yet"
    measured = Estimate(seconds=95, measured_trials=3, basis="3 trials", env_steps_per_second=800.0,
                        compile_seconds=25, train_seconds=60, render_seconds=10)
    assert logic.preset_label("Quality", 500_000, measured) == "💎 Quality · 500k steps · ~1 min 35 s"
    assert "800 env steps/s" in logic.estimate_help(measured)
    started = measured.model_copy(update={"start_seconds": 90, "seconds": 185})
    assert "start ~1 min 30 s, compile ~25 s, training ~1 min" in logic.estimate_help(started)


@pytest.mark.parametrize("seconds, text", [
    (0.2, "~1 s"), (44.6, "~45 s"), (60, "~1 min"), (95, "~1 min 35 s"), (605, "~10 min"),
    (3600, "~1 h"), (4800, "~1 h 20 min"), (None, "—"), (float("nan"), "—"),
])
def test_format_duration(seconds, text):
    assert logic.format_duration(seconds) == text


def test_step_options_and_presets():
    assert logic.STEP_OPTIONS[0] == 1_000  # the trainer's minimum: a tiny test run is possible
    for family in ("dm_control_suite", "locomotion", "manipulation"):
        presets = logic.presets_for(model("X", family=family))
        assert list(presets) == ["Quick", "Standard", "Quality"]
        assert all(steps in logic.STEP_OPTIONS for steps in presets.values())
    with_base = model("Go1", family="locomotion").model_copy(update={"base_policy": True})
    fine_tune = logic.presets_for(with_base)
    assert all(steps in logic.STEP_OPTIONS for steps in fine_tune.values())
    assert fine_tune["Standard"] > logic.presets_for(with_base, use_base_policy=False)["Standard"]
    assert logic.nearest_step_option(3_000) == 2_000
    assert logic.format_steps(20_000) == "20k" and logic.format_steps(2_000_000) == "2M"


def spec() -> RewardSpec:
    return RewardSpec(terms=[Term(name="pole_swing", kind="oscillate", feature="pole_angle", weight=1.5,
                                  amplitude=0.5),
                             Term(name="cart_speed", kind="penalty", feature="cart_velocity", weight=0.5)])


def test_weights_edit_into_a_valid_approach():
    approach = Approach(name="Wild", description="swing", reward=spec())
    assert not logic.weights_edited(approach, {"pole_swing": 1.5})
    edited = logic.with_weights(approach, {"pole_swing": -2.0})
    assert logic.weights_edited(approach, {"pole_swing": -2.0})
    assert [t.weight for t in edited.reward.terms] == [-2.0, 0.5]
    assert approach.reward.terms[0].weight == 1.5  # the original is untouched
    with pytest.raises(ValueError):
        logic.with_weights(approach, {"pole_swing": 50.0})
    chips = logic.term_chips(edited.reward)
    assert ":red-badge[pole swing · -2]" in chips and ":green-badge[cart speed · +0.5]" in chips


def test_same_proposal_is_recognised():
    approach = Approach(name="Wild", description="swing", reward=spec())
    assert logic.same_approaches([approach], [Approach.model_validate(approach.model_dump())])
    assert not logic.same_approaches([approach], [logic.with_weights(approach, {"pole_swing": 2.0})])


def test_surprise_gives_a_different_prompt():
    rng = random.Random(1)
    for _ in range(20):
        assert logic.surprise_prompt("Breakdance with style", rng) != "Breakdance with style"


def job(**kw) -> JobView:
    base = dict(job_id="20261124-101010-abcdef", model_id="CartpoleBalance", prompt="Swing it",
                num_steps=2000, use_base_policy=False, base_policy=False, status="queued", stage="waiting",
                created_at=1.0, render=RenderOptions())
    return JobView(**(base | kw))


def test_queue_and_progress_texts():
    assert logic.queue_text(job(queue_position=2, estimated_wait_seconds=None)) == \
        "⏳ #2 in the queue; the wait is not measured yet"
    assert logic.queue_text(job(queue_position=1, estimated_wait_seconds=130)) == \
        "⏳ #1 in the queue, about 2 min 10 s to wait"
    assert logic.queue_text(job(status="training")) is None
    trial = TrialView(index=0, name="Wild", description="d", status="running", env_steps=500, num_steps=2000,
                      fraction=0.25, episode_reward=12.345, eta_seconds=30)
    assert logic.trial_line(trial) == "🏃 running · 500 / 2,000 steps · reward 12.3 · ETA ~30 s"
    assert logic.trial_fraction(trial) == 0.25
    assert logic.overall_eta(job(status="training", trials=[trial])) == 30
    assert logic.video_file_name(job(trials=[trial]), 0) == "tabrl-CartpoleBalance-20261124-101010-abcdef-1-wild.mp4"
    assert logic.parse_favourite("2", 3) == 2 and logic.parse_favourite("7", 3) is None
    assert logic.parse_favourite("x", 3) is None


def test_sse_stream_parses_job_events():
    one = job(status="training").model_dump_json()
    two = job(status="succeeded").model_dump_json()
    lines = [": keep-alive", "", "event: job", f"data: {one}", "", "event: other", "data: {}", "",
             "event: job", f"data: {two}", ""]
    assert [v.status for v in parse_sse(lines)] == ["training", "succeeded"]


def test_player_has_three_synchronized_videos():
    tiles = [VideoTile(src=data_url(b"\x00\x01"), name=f"<b>{i}</b>", description="d", favourite=i == 1)
             for i in range(3)]
    page = sync_player_html(tiles)
    assert page.count("<video ") == 3
    assert page.count("muted loop playsinline") == 3
    assert "&lt;b&gt;0&lt;/b&gt;" in page and "<b>0</b>" not in page  # names are escaped
    assert page.count("⭐") == 1
    assert 'id="play"' in page and 'id="seek"' in page


def test_regenerate_asks_for_the_next_variant_of_the_same_prompt():
    assert logic.next_variant(None, "Go1", "Dance") == 0  # the first proposal
    shown = {"model_id": "Go1", "prompt": "Dance", "variant": 0}
    assert logic.next_variant(shown, "Go1", "Dance") == 1
    assert logic.next_variant({**shown, "variant": 4}, "Go1", "Dance") == 5
    assert logic.next_variant({**shown, "variant": 4}, "Go1", "Spin") == 0  # a new prompt starts over
    assert logic.next_variant({**shown, "variant": 4}, "CartpoleBalance", "Dance") == 0
    assert logic.next_variant({**shown, "variant": 999}, "Go1", "Dance") == 0  # wraps inside the API's bound


def test_the_favourite_comes_from_the_api_except_on_demo_jobs():
    trials = [TrialView(index=i, name=f"A{i}", description="d", status="succeeded", num_steps=2000, fraction=1.0)
              for i in range(3)]
    trained = job(status="succeeded", trials=trials, favourite=2)
    assert logic.favourite_of(trained, "0") == 2  # the API wins over a stale link
    assert logic.favourite_of(job(status="succeeded", trials=trials), "1") is None
    demo = job(status="succeeded", trials=trials, demo=True)
    assert logic.favourite_of(demo, "1") == 1 and logic.favourite_of(demo, None) is None
    assert logic.toggled_favourite(None, 1) == 1
    assert logic.toggled_favourite(1, 2) == 2
    assert logic.toggled_favourite(2, 2) is None  # clicking the favourite again clears it
    assert logic.history_label(trained).startswith("✅ ⭐ ")
    assert "⭐" not in logic.history_label(job(status="succeeded", trials=trials))


SLIDER = """<mujoco><worldbody><geom type="plane" size="5 5 .1"/>
<body name="box" pos="0 0 .3"><freejoint/><geom type="box" size=".2 .1 .05"/></body></worldbody></mujoco>"""


def swaying_box_behaviour(amplitude: float, reference_amplitude: float = 0.0):
    """The report of a box swaying sideways at 1.5 Hz (real MuJoCo, no JAX), beside a reference."""
    import mujoco
    import numpy as np

    from tabrl.policy_report import approach_behaviour

    m = mujoco.MjModel.from_xml_string(SLIDER)
    t = np.arange(300) / 30

    def states(a):
        qpos = np.tile([0, 0, 0.3, 1, 0, 0, 0], (len(t), 1)).astype(float)
        qpos[:, 1] = a * np.sin(2 * np.pi * 1.5 * t)
        return {"qpos": qpos, "qvel": np.zeros((len(t), 6))}

    spec = RewardSpec(terms=[Term(name="hip_sway", kind="oscillate", feature="lateral_velocity", weight=1.0,
                                  frequency=1.5, amplitude=2 * np.pi * 1.5 * 0.04)])
    return approach_behaviour(m, states(amplitude), 30, "locomotion", spec,
                              reference_states=states(reference_amplitude), reference_policy="base policy")


def test_a_video_card_says_what_the_robot_did_and_which_intents_were_met():
    behaviour = swaying_box_behaviour(0.05)
    trial = TrialView(index=0, name="Hula", description="d", status="succeeded", num_steps=2000, fraction=1.0,
                      behaviour=behaviour)
    words, intents, changed = logic.behaviour_lines(trial)
    assert words.startswith("🔎 It sways side to side 5 cm at 1.5 Hz")
    assert intents == "🎯 1 of 1 intents met: ✅ hip_sway"
    assert changed.startswith("↔️ vs. the base policy: hip sway +5.0 cm")
    rows = logic.motion_trace_rows(trial)
    assert len(rows) >= 90 and rows[-1]["seconds"] >= 9.5  # 10 s at up to 10 Hz
    assert max(r["sway (cm)"] for r in rows) == pytest.approx(5, abs=0.6)
    still = TrialView(index=1, name="Still", description="d", status="succeeded", num_steps=2000, fraction=1.0,
                      behaviour=swaying_box_behaviour(0.0))
    assert "❌ hip_sway" in logic.behaviour_lines(still)[1]
    assert logic.behaviour_lines(still)[2].endswith("nothing a person would see")
    assert logic.behaviour_lines(still.model_copy(update={"behaviour": None})) == []


def test_the_page_says_whether_the_approaches_differ():
    from tabrl.policy_report import batch_distinctness

    a, b = swaying_box_behaviour(0.05), swaying_box_behaviour(0.0)
    trials = [TrialView(index=i, name=n, description="d", status="succeeded", num_steps=2000, fraction=1.0)
              for i, n in enumerate(["Hula", "Still"])]
    assert "behave distinctly" in logic.distinctness_text(job(trials=trials, distinctness=batch_distinctness([a, b])))
    assert "Hula and Still behave much alike" in logic.distinctness_text(
        job(trials=trials, distinctness=batch_distinctness([a, a])))
    assert logic.distinctness_text(job(trials=trials)) is None


def test_the_approach_card_shows_and_edits_the_held_command():
    from tabrl.rewards.spec import Approach, Command, Pose, field_range

    held = RewardSpec(terms=spec().terms, command=Command(forward=0.4))
    approach = Approach(name="Moon walk", description="floaty", reward=held)
    assert logic.command_text(held) == "🕹️ Command: forward 0.4 m/s"
    assert logic.command_text(held.model_dump(mode="json")) == "🕹️ Command: forward 0.4 m/s"  # a job view's dict
    assert logic.command_text(spec()) == ""  # models without a joystick command
    posed = RewardSpec(terms=spec().terms, command=Command(), pose=Pose(height=-0.08, hips=0.2, beat_hz=2))
    assert logic.command_text(posed) == "🕹️ Command: stand in place · 🧍 Pose: crouch 8 cm, hips ±11° at 2 Hz"
    edited = logic.with_weights(approach, {}, {"forward": 0.0, "turn": 1.0})
    assert edited.reward.command == Command(turn=1.0)
    assert logic.weights_edited(approach, {}, {"forward": 0.0}) and not logic.weights_edited(approach, {}, {"forward": 0.4})
    with pytest.raises(ValueError):
        logic.with_weights(approach, {}, {"forward": 9.0})
    # The pose edits like the command, within what the base handles (the inputs' bounds).
    crouching = Approach(name="Crouch", description="low", reward=posed)
    lower = logic.with_weights(crouching, {}, None, {"height": -0.1})
    assert lower.reward.pose.height == -0.1 and lower.reward.pose.hips == 0.2
    assert logic.weights_edited(crouching, {}, None, {"height": -0.1})
    assert not logic.weights_edited(crouching, {}, None, {"height": -0.08})
    assert field_range(Pose, "pitch") == (-0.4, 0.3) and field_range(Command, "beat_hz") == (0.1, 2.0)
    with pytest.raises(ValueError, match="pose height -0.1 with bob 0.05"):
        logic.with_weights(crouching, {}, None, {"height": -0.1, "bob": 0.05})


def test_a_finished_job_says_where_its_time_went():
    from tabrl.stages import Stage

    stages = [Stage(name="start", seconds=94.2), Stage(name="compile", seconds=3.4), Stage(name="train", seconds=50),
              Stage(name="render", seconds=121.6), Stage(name="composite", seconds=0.6)]
    done = job(status="succeeded", stages=stages)
    assert logic.time_split_text(done) == ("⏱️ Where the time went: start 94 s · compile 3 s · train 50 s · "
                                           "render 122 s · composite 1 s (270 s in all)")
    assert logic.time_split_text(job(status="training", stages=stages[:3])) is None  # shown once it is done
    assert logic.time_split_text(job(status="succeeded")) is None  # an old job without stages


def test_the_sidebar_says_what_the_server_gets_ready():
    from serve_app.schemas import Health, WarmStatus

    def health(*warming):
        return Health(status="ok", version="0", ray_cpus=2, ray_gpus=0, jobs_running=0, jobs_queued=0,
                      warming=list(warming))

    assert logic.warming_lines(health()) == []
    busy = WarmStatus(model_id="Go1JoystickFlatTerrain", num_steps=50_000, state="warming",
                      stage="compiling its training program")
    assert logic.warming_lines(health(busy)) == [
        "🔥 Getting Go1JoystickFlatTerrain ready for your first job: compiling its training program…"]
    ready = busy.model_copy(update={"state": "ready", "stage": "ready", "seconds": 150.0})
    assert logic.warming_lines(health(ready)) == ["✅ Go1JoystickFlatTerrain is ready: its programs are compiled "
                                                  "(2 min 30 s)"]
    failed = busy.model_copy(update={"state": "failed", "error": "out of memory"})
    assert "out of memory" in logic.warming_lines(health(failed))[0]
