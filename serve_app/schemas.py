"""The HTTP API's request and response bodies (pydantic; FastAPI turns them into /openapi.json).

Ids that reach the file system are validated here by pattern, so no path is
ever built from a raw user string: `JOB_ID_PATTERN` for jobs, `POLICY_ID_PATTERN`
for trained policies (`<job_id>-<approach index>`), and model ids are checked
against the Playground registry before use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tabrl.behaviour import Distinctness
from tabrl.catalog import ModelEntry
from tabrl.job_results import TrialResult
from tabrl.policy_report import ApproachBehaviour
from tabrl.stages import Stage
from tabrl.rewards.spec import Approach
from tabrl.rewards.variants import MAX_VARIANT

JOB_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
POLICY_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}-[0-9]$"
MODEL_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"
MAX_RAW_PROMPT_CHARS = 2_000
"""The request may carry up to this much; after cleaning, `tabrl.rewards.prompt` allows 500."""

JobStatus = Literal["queued", "proposing", "training", "rendering", "succeeded", "failed", "interrupted",
                    "cancelled"]
TERMINAL_STATUSES = ("succeeded", "failed", "interrupted", "cancelled")
TrialStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]

_STRICT = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str = Field(description="what went wrong and how to fix it")


class WarmStatus(BaseModel):
    """A model whose programs the server compiles at start (`TABRL_WARM`, `tabrl.warm`)."""

    model_id: str
    num_steps: int | None = None
    state: Literal["waiting", "warming", "ready", "failed"]
    stage: str = Field(description="what it is doing, in words")
    seconds: float | None = None
    executables_compiled: int | None = None
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    ray_cpus: float
    ray_gpus: float
    jobs_running: int
    jobs_queued: int
    warming: list[WarmStatus] = []
    """The models being made ready for their first job (none unless `TABRL_WARM` names some)."""


class CatalogStatus(BaseModel):
    """Whether the model list is final; while `loading`, `models` may be empty or provisional."""

    state: Literal["loading", "ready", "failed"] = "ready"
    done: int = 0
    total: int = 0
    message: str | None = Field(None, description="what is happening, or what failed and what to do")


class MeshFetch(BaseModel):
    """A robot-mesh download the API is doing (or did) for a model."""

    model_id: str
    state: Literal["fetching", "done", "failed"]
    done_bytes: int = 0
    total_bytes: int = 0
    error: str | None = None


class ModelList(BaseModel):
    models: list[ModelEntry]
    status: CatalogStatus = CatalogStatus()
    fetches: list[MeshFetch] = []


class Estimate(BaseModel):
    """A time estimate for one approach, from throughput measured on this cluster."""

    seconds: float | None = Field(description="start + compile + training + rendering (the job's stages); "
                                              "null until measured here")
    start_seconds: float | None = None
    compile_seconds: float | None = None
    train_seconds: float | None = None
    render_seconds: float | None = None
    env_steps_per_second: float | None = None
    measured_trials: int = Field(description="how many finished trials of this model the figure comes from")
    basis: str = Field(description="where the figure comes from, in words")


class ApproachesRequest(BaseModel):
    model_config = _STRICT

    model_id: str = Field(pattern=MODEL_ID_PATTERN, examples=["Go1JoystickFlatTerrain"])
    prompt: str = Field(max_length=MAX_RAW_PROMPT_CHARS, examples=["Keep shaking your hips aloha dude!"])
    num_steps: int = Field(default=20_000, examples=[20_000])
    variant: int = Field(
        default=0, ge=0, le=MAX_VARIANT,
        description="Regenerate: 0 is the usual reading of the prompt; every other number gives "
        "three different approaches (the same ones again for the same number)",
    )


class ProposedApproach(Approach):
    estimate: Estimate


class ApproachesResponse(BaseModel):
    model_id: str
    prompt: str
    num_steps: int
    variant: int = 0
    source: Literal["llm", "offline", "fallback"]
    warnings: list[str]
    approaches: list[ProposedApproach]


class EstimateResponse(BaseModel):
    model_id: str
    num_steps: int
    estimate: Estimate


class RenderOptions(BaseModel):
    model_config = _STRICT

    seconds: float = Field(default=10.0, gt=0, le=60)
    fps: int = Field(default=30, ge=5, le=60)
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=480, ge=48, le=1080)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class BatchRequest(BaseModel):
    """Either a prompt (the server proposes three approaches) or the approaches themselves."""

    model_config = _STRICT

    model_id: str = Field(pattern=MODEL_ID_PATTERN, examples=["CartpoleBalance"])
    prompt: str = Field(max_length=MAX_RAW_PROMPT_CHARS, examples=["Swing the pole wildly but never let it fall"])
    approaches: list[Approach] | None = Field(
        default=None, min_length=1, max_length=3,
        description="approaches from POST /api/training/approaches, weights possibly edited; "
        "omitted: the server proposes them from the prompt",
    )
    num_steps: int = Field(examples=[20_000])
    use_base_policy: bool = Field(default=True, description="fine-tune from the model's base policy when it has one")
    render: RenderOptions = Field(default_factory=RenderOptions)


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    queue_position: int | None
    url: str
    events_url: str


class RewardPoint(BaseModel):
    env_steps: int
    episode_reward: float | None


class TrialView(BaseModel):
    index: int
    name: str
    description: str
    status: TrialStatus
    env_steps: int = 0
    num_steps: int
    fraction: float = Field(description="env_steps / num_steps, 0..1")
    episode_reward: float | None = None
    terms: dict[str, float] = Field(default_factory=dict)
    env_steps_per_second: float | None = None
    eta_seconds: float | None = Field(default=None, description="time left for this trial, from its own pace")
    reward_curve: list[RewardPoint] = Field(default_factory=list)
    compile_seconds: float | None = None
    train_seconds: float | None = None
    policy_id: str | None = None
    video_url: str | None = None
    error: str | None = None
    reward: dict | None = Field(default=None, description="the approach's reward spec")
    behaviour: ApproachBehaviour | None = Field(
        default=None, description="what the policy did in its video (measured from the same rollout), "
        "its reward terms judged against it, and what changed against the base policy (or zero actions)")


    def take_result(self, result: TrialResult, job_id: str, *, policy: bool = True) -> None:
        """What the pipeline says about this trial: trained (metrics), rendered (video, behaviour), or why not."""
        self.status, self.error = result.status, result.error
        if result.metrics is not None:
            m = result.metrics
            self.env_steps, self.fraction, self.eta_seconds = m.env_steps, 1.0, 0.0
            self.episode_reward = m.final_reward
            self.compile_seconds, self.train_seconds = m.compile_seconds, m.train_seconds
            self.env_steps_per_second = m.env_steps_per_second or self.env_steps_per_second
            self.policy_id = f"{job_id}-{result.index}" if policy and result.checkpoint else None
        if result.video:
            self.video_url = f"/api/training/jobs/{job_id}/videos/{result.index}"
        if result.behaviour is not None:
            self.behaviour = result.behaviour


class EvolvedFrom(BaseModel):
    job_id: str
    approach: int = Field(ge=0, le=2)
    name: str = Field(description="the approach evolved, as it was named in that job")


class JobView(BaseModel):
    job_id: str
    model_id: str
    prompt: str
    num_steps: int
    use_base_policy: bool
    base_policy: bool = Field(description="whether a base policy was used")
    status: JobStatus
    stage: str = Field(description="what is happening now, in words")
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    queue_position: int | None = Field(default=None, description="1 = next to start; null when not queued")
    estimated_wait_seconds: float | None = None
    estimated_seconds: float | None = Field(default=None, description="estimated run time once started")
    source: str | None = None
    warnings: list[str] = Field(default_factory=list)
    trials: list[TrialView] = Field(default_factory=list)
    composite_url: str | None = None
    error: str | None = None
    render: RenderOptions
    distinctness: Distinctness | None = Field(
        default=None, description="how different the rendered approaches' behaviours are")
    stages: list[Stage] = Field(
        default_factory=list, description="where the time went, stage by stage, as each finished: "
        "propose, start, critic (a base policy's value warm-up), compile, train, render, composite (seconds)")
    demo: bool = Field(default=False, description="a ready-made result shipped with TabRL, not trained here")
    favourite: int | None = Field(
        default=None, ge=0, le=2,
        description="the approach the person marked as their favourite (PUT .../favourite); null: none",
    )
    evolved_from: EvolvedFrom | None = Field(
        default=None, description="for an evolved job (POST .../evolve): the approach its three variants "
        "were fine-tuned from (that job's checkpoint)")


class EvolveRequest(BaseModel):
    model_config = _STRICT

    approach: int | None = Field(default=None, ge=0, le=2,
                                 description="the approach to evolve; null: the job's favourite")
    num_steps: int | None = Field(default=None, description="steps per variant; null: the job's own")


class FavouriteRequest(BaseModel):
    model_config = _STRICT

    approach: int | None = Field(ge=0, le=2, description="the approach's index; null clears the favourite",
                                 examples=[1])


class JobList(BaseModel):
    jobs: list[JobView]


class RenderVideoRequest(BaseModel):
    model_config = _STRICT

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    index: int = Field(ge=0, le=2)
    seconds: float = Field(default=10.0, gt=0, le=60)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    fps: int = Field(default=30, ge=5, le=60)
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=480, ge=48, le=1080)


class RenderVideoResponse(BaseModel):
    job_id: str
    index: int
    video_url: str
    frames: int
    seconds: float


class ActRequest(BaseModel):
    model_config = _STRICT

    observation: list[float] | dict[str, list[float]] = Field(
        description="the environment's observation: a flat vector, or a dict of vectors for "
        "models with dict observations (only the policy's key is used)"
    )
    time: float = Field(default=0.0, ge=0.0, le=1e6, description="seconds since the episode started: "
                        "the policy also sees the phase of its approach's clock at that time")
    deterministic: bool = True


class ActResponse(BaseModel):
    policy_id: str
    action: list[float]
