"""The page's decisions as plain functions (no Streamlit, no HTTP), so they are testable alone.

What goes here: which model comes first, the step presets and how their labels
read, how reward terms become chips, how edited weights become approaches for a
batch, and how a job's state reads to a person.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence

from serve_app.schemas import TERMINAL_STATUSES, Estimate, Health, JobView, TrialView
from tabrl.catalog import ModelEntry
from tabrl.rewards.spec import Approach, RewardSpec
from tabrl.rewards.variants import MAX_VARIANT
from tabrl.stages import stages_text

HERO_MODEL = "Go1JoystickFlatTerrain"

EXAMPLE_PROMPTS: tuple[str, ...] = (
    "Keep shaking your hips aloha dude!",
    "Do the robot dance from the 80s",
    "Pretend you're a happy puppy",
    "Walk like you're on the moon",
    "Breakdance with style",
)

SURPRISE_PROMPTS: tuple[str, ...] = (
    "Moonwalk like Michael Jackson",
    "Tiptoe past a sleeping cat",
    "Wag your tail like you just heard the word walkies",
    "Bounce like the floor is a trampoline",
    "Sneak like a ninja at midnight",
    "Strut down the catwalk like a supermodel",
    "Do the hula at a beach party",
    "Stomp like a grumpy dinosaur",
    "Spin around like you're chasing your tail",
    "March proudly in a tiny parade",
    "Wiggle like jelly on a plate",
    "Swing the pole wildly but never let it fall",
)

STEP_OPTIONS: tuple[int, ...] = (
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
)
"""The slider's stops: env steps per approach. 1,000 is the trainer's minimum."""

PRESET_ICONS = {"Quick": "⚡", "Standard": "🎯", "Quality": "💎"}
STATUS_ICONS = {
    "queued": "⏳", "proposing": "🧠", "training": "🏋️", "rendering": "🎬",
    "succeeded": "✅", "failed": "💥", "interrupted": "⏹️", "cancelled": "🛑",
    "pending": "⏳", "running": "🏃",
}

FAMILY_LABELS = {
    "locomotion": "🦿 Locomotion",
    "manipulation": "🦾 Manipulation",
    "dm_control_suite": "🎛️ DM Control",
}

VIDEO_SIZES: dict[str, tuple[int, int]] = {
    "320×240 (fast)": (320, 240),
    "640×480": (640, 480),
    "1280×720 (slow on a CPU)": (1280, 720),
}
DEFAULT_VIDEO_SIZE = "640×480"


# --- models ------------------------------------------------------------------------


def sort_models(models: Iterable[ModelEntry]) -> list[ModelEntry]:
    """The hero (Go1) first, then models that can run here, then by family and name."""
    family_order = {"locomotion": 0, "dm_control_suite": 1, "manipulation": 2}
    return sorted(
        models,
        key=lambda m: (m.id != HERO_MODEL, not m.available, family_order.get(m.family, 9), m.name.lower()),
    )


def default_model_id(models: Sequence[ModelEntry]) -> str | None:
    """Go1 when it can run here, else the first model that can, else the first one."""
    ordered = sort_models(models)
    for model in ordered:
        if model.available:
            return model.id
    return ordered[0].id if ordered else None


def filter_models(models: Sequence[ModelEntry], family: str | None, query: str) -> list[ModelEntry]:
    words = query.lower().split()
    return [
        m for m in models
        if (not family or m.family == family)
        and all(w in f"{m.id} {m.name} {m.family} {m.description}".lower() for w in words)
    ]


def model_facts(model: ModelEntry) -> str:
    parts = [FAMILY_LABELS.get(model.family, model.family)]
    if model.dof is not None:
        parts.append(f"{model.dof} DoF")
    if model.action_size is not None:
        parts.append(f"{model.action_size} actuator{'s' if model.action_size != 1 else ''}")
    return " · ".join(parts)


# --- steps and time ----------------------------------------------------------------


def presets_for(model: ModelEntry | None, use_base_policy: bool = True) -> dict[str, int]:
    """The presets' steps (`tabrl.presets`): a fine-tune of a base policy gets its own."""
    from tabrl.presets import presets

    family = model.family if model else "dm_control_suite"
    return presets(family, fine_tune=bool(model and model.base_policy and use_base_policy))


def format_megabytes(done: int, total: int) -> str:
    """`3.2 / 9.9 MB` for a download's progress."""
    return f"{done / 2**20:.1f} / {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"


def nearest_step_option(steps: int) -> int:
    return min(STEP_OPTIONS, key=lambda option: abs(math.log(option) - math.log(max(steps, 1))))


def format_steps(steps: int) -> str:
    if steps >= 1_000_000 and steps % 100_000 == 0:
        return f"{steps / 1_000_000:g}M"
    if steps >= 1_000 and steps % 100 == 0:
        return f"{steps / 1_000:g}k"
    return f"{steps:,}"


def format_duration(seconds: float | None) -> str:
    """`~45 s`, `~3 min`, `~1 h 20 min`; `—` for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"~{max(1, round(seconds))} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"~{minutes} min" if minutes >= 10 or rest < 10 else f"~{minutes} min {rest} s"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"~{hours} h {rest} min" if rest else f"~{hours} h"


NOT_MEASURED = "not measured yet"


def estimate_text(estimate: Estimate | None) -> str:
    """What a person reads next to a step count: a measured time, or honestly none."""
    if estimate is None or estimate.seconds is None:
        return NOT_MEASURED
    return format_duration(estimate.seconds)


def preset_label(name: str, steps: int, estimate: Estimate | None) -> str:
    return f"{PRESET_ICONS.get(name, '')} {name} · {format_steps(steps)} steps · {estimate_text(estimate)}".strip()


def estimate_help(estimate: Estimate | None) -> str:
    if estimate is None:
        return "The API gave no estimate."
    lines = [estimate.basis]
    if estimate.seconds is not None:
        parts = [
            ("start", estimate.start_seconds), ("compile", estimate.compile_seconds),
            ("training", estimate.train_seconds),
            ("rendering", estimate.render_seconds),
        ]
        lines.append(", ".join(f"{label} {format_duration(value)}" for label, value in parts if value is not None))
        if estimate.env_steps_per_second:
            lines.append(f"{estimate.env_steps_per_second:,.0f} env steps/s measured over "
                         f"{estimate.measured_trials} finished trial(s)")
    return "  \n".join(line for line in lines if line)


def training_mode_text(model: ModelEntry | None, use_base_policy: bool) -> str:
    if model is None:
        return ""
    if model.base_policy and use_base_policy:
        return (f"🎓 **Fine-tuning** {model.name}'s base policy: it already knows how to move, so even a "
                "small budget changes its style.")
    if model.base_policy:
        return (f"🌱 **From scratch**: {model.name} has a base policy, but you chose to start from random "
                "weights. Small budgets will mostly show flailing.")
    return (f"🌱 **From scratch**: {model.name} has no base policy yet, so the three approaches start "
            "from random weights.")


# --- approaches ----------------------------------------------------------------------


def term_chip(name: str, weight: float) -> str:
    """A term as a Streamlit markdown badge: green rewards, red penalties."""
    color = "red" if weight < 0 else "green" if weight > 0 else "gray"
    label = name.replace("_", " ")
    return f":{color}-badge[{label} · {weight:+g}]"


def term_chips(reward: RewardSpec | Mapping | None, overrides: Mapping[str, float] | None = None) -> str:
    if reward is None:
        return ""
    terms = reward.terms if isinstance(reward, RewardSpec) else RewardSpec.model_validate(reward).terms
    overrides = overrides or {}
    return " ".join(term_chip(t.name, overrides.get(t.name, t.weight)) for t in terms)


def term_help(reward: RewardSpec) -> str:
    from tabrl.rewards.summary import describe_term

    return "\n".join(describe_term(term) for term in reward.terms)


def with_weights(approach: Approach, weights: Mapping[str, float],
                 command: Mapping[str, float] | None = None, pose: Mapping[str, float] | None = None) -> Approach:
    """A copy of the approach with some terms' weights (|w| <= 10), command fields and pose
    fields (within the ranges the base policy handles) replaced, validated."""
    terms = [term.model_copy(update={"weight": float(weights[term.name])}) if term.name in weights else term
             for term in approach.reward.terms]
    data = {**approach.reward.model_dump(), "terms": [t.model_dump() for t in terms]}
    for key, fields in (("command", command), ("pose", pose)):
        if fields and data.get(key) is not None:
            data[key] = {**data[key], **{k: float(v) for k, v in fields.items()}}
    reward = RewardSpec.model_validate(data)
    return Approach(name=approach.name, description=approach.description, reward=reward)


def weights_edited(approach: Approach, weights: Mapping[str, float],
                   command: Mapping[str, float] | None = None, pose: Mapping[str, float] | None = None) -> bool:
    def moved(held, fields) -> bool:
        return bool(held is not None and fields
                    and any(not math.isclose(float(v), getattr(held, k)) for k, v in fields.items()))

    return any(name in weights and not math.isclose(weights[name], term.weight)
               for term in approach.reward.terms for name in [term.name]) or moved(
        approach.reward.command, command) or moved(approach.reward.pose, pose)


def command_text(reward: RewardSpec | Mapping | None) -> str:
    """The approach's command and pose for its card ("" for models without them)."""
    if isinstance(reward, Mapping):
        reward = RewardSpec.model_validate(reward)
    if reward is None:
        return ""
    parts = [f"🕹️ Command: {reward.command.describe()}"] if reward.command is not None else []
    if reward.pose is not None and not reward.pose.is_neutral():
        parts.append(f"🧍 Pose: {reward.pose.describe()}")
    return " · ".join(parts)


def same_approaches(a: Sequence[Approach], b: Sequence[Approach]) -> bool:
    """Whether two proposals are the same three approaches (names, descriptions and rewards)."""
    def key(x: Approach) -> str:
        return Approach.model_validate(x.model_dump(include={"name", "description", "reward"})).model_dump_json()

    return [key(x) for x in a] == [key(x) for x in b]


def next_variant(previous: Mapping | None, model_id: str, prompt: str) -> int:
    """The variant Regenerate asks for: the next one for the same robot and prompt, 0 for anything new."""
    if not previous or previous.get("model_id") != model_id or previous.get("prompt") != prompt:
        return 0
    return (int(previous.get("variant", 0)) + 1) % (MAX_VARIANT + 1)


def surprise_prompt(current: str = "", rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    choices = [p for p in SURPRISE_PROMPTS + EXAMPLE_PROMPTS if p != current]
    return rng.choice(choices)


# --- jobs --------------------------------------------------------------------------


def is_terminal(job: JobView) -> bool:
    return job.status in TERMINAL_STATUSES


def can_cancel(job: JobView) -> bool:
    """A job trained here that has not finished; not one already stopping."""
    return not job.demo and not is_terminal(job) and not job.stage.startswith("cancelling")


def status_badge(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '•')} {status}"


def queue_text(job: JobView) -> str | None:
    if job.status != "queued":
        return None
    position = f"#{job.queue_position} in the queue" if job.queue_position else "in the queue"
    if job.estimated_wait_seconds is None:
        return f"⏳ {position}; the wait is not measured yet"
    return f"⏳ {position}, about {format_duration(job.estimated_wait_seconds).lstrip('~')} to wait"


def trial_line(trial: TrialView) -> str:
    parts = [status_badge(trial.status), f"{trial.env_steps:,} / {trial.num_steps:,} steps"]
    if trial.episode_reward is not None:
        parts.append(f"reward {trial.episode_reward:.3g}")
    if trial.status == "running":
        parts.append(f"ETA {format_duration(trial.eta_seconds)}" if trial.eta_seconds is not None
                     else "ETA after the first epoch")
    if trial.env_steps_per_second:
        parts.append(f"{trial.env_steps_per_second:,.0f} steps/s")
    return " · ".join(parts)


def trial_fraction(trial: TrialView) -> float:
    if trial.status == "succeeded":
        return 1.0
    return min(1.0, max(0.0, float(trial.fraction or 0.0)))


def reward_curve_rows(trial: TrialView) -> list[dict]:
    return [{"env steps": p.env_steps, "episode reward": p.episode_reward}
            for p in trial.reward_curve if p.episode_reward is not None]


INTENT_ICONS = {"met": "✅", "partly": "🟡", "not met": "❌", "not measured": "·"}


def behaviour_lines(trial: TrialView) -> list[str]:
    """A video card's report in words: what the robot did, the intents met, what changed
    against the reference. Empty when the trial has no report."""
    b = trial.behaviour
    if b is None:
        return []
    lines = [f"🔎 It {b.words}."]
    if b.intents is not None and b.intents.results:
        measured = [r for r in b.intents.results if r.status != "not measured"]
        met = sum(r.status == "met" for r in measured)
        lines.append(f"🎯 {met} of {len(measured)} intents met: "
                     + ", ".join(f"{INTENT_ICONS[r.status]} {r.term}" for r in b.intents.results))
    if b.reference is not None:
        changed = ", ".join(b.changed) if b.changed else "nothing a person would see"
        lines.append(f"↔️ vs. the {b.reference_policy}: {changed}")
    return lines


def motion_trace_rows(trial: TrialView) -> list[dict]:
    """The card's plot: roll (degrees) and sideways sway (cm) over the video's seconds, from
    the report's traces; the traces a model does not have are left out."""
    if trial.behaviour is None:
        return []
    traces = trial.behaviour.report.traces
    rows = []
    for i, t in enumerate(traces.time):
        row = {"seconds": round(t, 2)}
        if traces.roll is not None:
            row["roll (°)"] = round(math.degrees(traces.roll[i]), 2)
        if traces.sway is not None:
            row["sway (cm)"] = round(traces.sway[i] * 100, 2)
        if len(row) == 1:  # a planar model: its height is what moves
            row["height (cm)"] = round(traces.height[i] * 100, 2)
        rows.append(row)
    return rows


def distinctness_text(job: JobView) -> str | None:
    """One line on whether the approaches came out different from one another."""
    d = job.distinctness
    if d is None:
        return None
    first, second = (job.trials[i].name if i < len(job.trials) else str(i) for i in d.closest)
    if d.distinct:
        return f"🧭 The approaches behave distinctly (closest: {first} and {second}, distance {d.minimum:.1f})."
    return f"🧭 {first} and {second} behave much alike (distance {d.minimum:.1f}; 1 = visibly different)."


def warming_lines(health: Health) -> list[str]:
    """What the server is getting ready for the first job (`TABRL_WARM`), one line per model."""
    lines = []
    for warm in health.warming:
        if warm.state in ("waiting", "warming"):
            lines.append(f"🔥 Getting {warm.model_id} ready for your first job: {warm.stage}…")
        elif warm.state == "ready":
            lines.append(f"✅ {warm.model_id} is ready: its programs are compiled"
                         + (f" ({format_duration(warm.seconds).lstrip('~')})" if warm.seconds else ""))
        else:
            lines.append(f"⚠️ Could not get {warm.model_id} ready ahead ({warm.error}); its first job compiles it")
    return lines


def time_split_text(job: JobView) -> str | None:
    """Where a finished job's time went (`tabrl.stages`); None while it runs or for a demo without stages."""
    if not is_terminal(job):
        return None
    split = stages_text(job.stages)
    return f"⏱️ Where the time went: {split}" if split else None


def job_title(job: JobView) -> str:
    prompt = job.prompt if len(job.prompt) <= 48 else job.prompt[:47] + "…"
    return f"“{prompt}”"


def history_label(job: JobView) -> str:
    """A history entry: status (or demo) icon, a star when the job has a favourite, the prompt."""
    icon = "🎬" if job.demo else STATUS_ICONS.get(job.status, "•")
    star = "⭐ " if job.favourite is not None else ""
    return f"{icon} {star}{job_title(job)}"


def job_subtitle(job: JobView, now: float | None = None) -> str:
    when = "ready-made demo" if job.demo else ago(job.created_at, now)
    return f"{job.model_id} · {format_steps(job.num_steps)} steps · {when}"


def ago(timestamp: float | None, now: float | None = None) -> str:
    if not timestamp:
        return ""
    seconds = max(0.0, (now or time.time()) - timestamp)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def overall_eta(job: JobView) -> float | None:
    """The job's time left: the slowest running trial's ETA (they run in parallel)."""
    etas = [t.eta_seconds for t in job.trials if t.status == "running" and t.eta_seconds is not None]
    return max(etas) if etas else None


def video_file_name(job: JobView, index: int | None) -> str:
    stem = f"tabrl-{job.model_id}-{job.job_id}"
    if index is None:
        return f"{stem}-side-by-side.mp4"
    trial = next((t for t in job.trials if t.index == index), None)
    slug = "".join(ch if ch.isalnum() else "-" for ch in (trial.name if trial else str(index)).lower()).strip("-")
    return f"{stem}-{index + 1}-{slug or 'approach'}.mp4"


def parse_favourite(raw: str | None, count: int) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < count else None


def favourite_of(job: JobView, raw_fav: str | None) -> int | None:
    """The job's favourite approach: the API's, or for a read-only demo job the URL's `fav`."""
    if job.demo:
        return parse_favourite(raw_fav, len(job.trials))
    return job.favourite if job.favourite is not None and 0 <= job.favourite < len(job.trials) else None


def toggled_favourite(current: int | None, clicked: int) -> int | None:
    """Clicking the favourite again clears it; clicking another approach makes that one the favourite."""
    return None if current == clicked else clicked
