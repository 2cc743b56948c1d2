"""The FastAPI ingress: TabRL's HTTP API (OpenAPI at /openapi.json, docs at /docs).

Reads (jobs, videos, thumbnails) come straight from the job store and the data
folder; work (proposing, training, rendering, acting) goes to the deployments.
Every client mistake is a 4xx with `{"detail": "<what to fix>"}`; an
unexpected failure is a 500 with a short message and the traceback only in
the server log.
"""



import asyncio
import hmac
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from ray import serve

from serve_app import schemas as s
from serve_app.deployments import ClientError
from serve_app.estimates import estimate
from serve_app.settings import load_settings
from serve_app.store import ACTIVE_STATUSES, JobStore, is_terminal, load_demo_jobs, mark_cancelled
from tabrl.job_layout import JobLayout, new_job_id

log = logging.getLogger("tabrl.serve")
SETTINGS = load_settings()

JobId = Annotated[str, PathParam(pattern=s.JOB_ID_PATTERN, description="a job id, e.g. 20261124-101500-a1b2c3")]
ModelId = Annotated[str, PathParam(pattern=s.MODEL_ID_PATTERN, max_length=80)]
PolicyId = Annotated[str, PathParam(pattern=s.POLICY_ID_PATTERN, description="<job_id>-<approach index>")]
Index = Annotated[int, PathParam(ge=0, le=2)]

ERRORS = {code: {"model": s.ErrorBody} for code in (400, 401, 404, 409, 413, 422, 429, 503)}

app = FastAPI(
    title="TabRL",
    version="0.1.0",
    summary="Prompt -> three reward approaches -> three PPO policies trained in parallel -> three videos.",
    responses={422: {"model": s.ErrorBody}},
)


# --- errors, limits, auth ------------------------------------------------------------


@app.exception_handler(ClientError)
async def _client_error(request: Request, error: ClientError):
    return JSONResponse({"detail": error.detail}, status_code=error.status, headers=error.headers)


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, error: RequestValidationError):
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)


@app.exception_handler(Exception)
async def _unexpected(request: Request, error: Exception):
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)


class BodyLimit:
    """Pure ASGI middleware: a request body over `limit` bytes is a 413, read or declared."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _too_large(send, self.limit)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ClientError(413, f"the request body is over {self.limit} bytes")
            return message

        return await self.app(scope, limited, send)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


app.add_middleware(BodyLimit, limit=SETTINGS.max_body_bytes)
if SETTINGS.cors_origins:
    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(CORSMiddleware, allow_origins=SETTINGS.cors_origins, allow_methods=["GET", "POST", "PUT"],
                       allow_headers=["Authorization", "Content-Type", "Range"])


def require_token(request: Request) -> None:
    """When TABRL_API_TOKEN is set, work needs `Authorization: Bearer <token>`."""
    token = SETTINGS.api_token
    if not token:
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise ClientError(401, "this server needs `Authorization: Bearer <token>` (TABRL_API_TOKEN)",
                          {"WWW-Authenticate": "Bearer"})


Auth = [Depends(require_token)]


def _unwrap(error: BaseException) -> BaseException:
    """A ClientError raised in a deployment arrives wrapped by Ray; find it."""
    seen = error
    for _ in range(5):
        if isinstance(seen, ClientError):
            return seen
        seen = getattr(seen, "cause", None) or seen.__cause__
        if seen is None:
            break
    return error


async def _call(method, *args):
    try:
        return await method.remote(*args)
    except Exception as error:
        raise _unwrap(error) from None


def _batch_seconds(value: s.Estimate) -> float | None:
    """A batch trains its approaches side by side, then renders them one after another."""
    if value.seconds is None:
        return None
    return round(value.seconds + 2 * (value.render_seconds or 0.0), 1)


def _safe_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "video"


# --- the ingress ------------------------------------------------------------------------


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=200)
@serve.ingress(app)
class Api:
    def __init__(self, proposer, coordinator, renderer, policies):
        self.proposer, self.coordinator, self.renderer, self.policies = proposer, coordinator, renderer, policies
        self.settings = SETTINGS
        self.store = JobStore(SETTINGS.job_store)
        self.demos = load_demo_jobs(SETTINGS.demo_dir)
        self._catalog: dict | None = None
        self._catalog_status = s.CatalogStatus(state="loading", message="loading the model list")
        self._fetches: dict[str, s.MeshFetch] = {}
        try:  # the shipped bundle or the cache: instant, loads no environment
            from tabrl.catalog import quick_catalog

            quick = quick_catalog()
            self._catalog = {entry.id: entry for entry in quick} if quick else None
        except Exception:
            log.exception("reading the bundled model catalog failed")
        # What is left (probing models whose meshes are here now, or the cold path when the
        # installed Playground differs from the bundle's) runs in the background, never in a request.
        threading.Thread(target=self._load_catalog, daemon=True).start()

    def _load_catalog(self) -> None:
        from tabrl.catalog import load_catalog

        def progress(done: int, total: int) -> None:
            self._catalog_status = s.CatalogStatus(state="loading", done=done, total=total,
                                                   message=f"loading models {done}/{total}")

        try:
            self._catalog = {entry.id: entry for entry in load_catalog(progress=progress)}
            self._catalog_status = s.CatalogStatus(state="ready", done=len(self._catalog), total=len(self._catalog))
        except Exception as error:
            log.exception("building the model catalog failed")
            self._catalog_status = s.CatalogStatus(
                state="failed", message=f"The model list could not be built ({type(error).__name__}: {error}); "
                                        "see the server log, then restart `tabrl serve`.")
            return
        try:  # the first estimate imports JAX, Brax and Playground (about 10 s): not in a person's request
            from tabrl.training import scaled_ppo_config

            scaled_ppo_config("Go1JoystickFlatTerrain", 10_000, accelerator=False)
        except Exception:
            log.exception("warming up the estimates failed")

    async def catalog(self) -> dict:
        if self._catalog is not None:
            return self._catalog
        status = self._catalog_status
        if status.state == "failed":
            raise ClientError(503, status.message)
        raise ClientError(503, f"The model list is still loading ({status.done}/{status.total or '?'}); "
                               "try again in a few seconds.", headers={"Retry-After": "5"})

    async def model(self, model_id: str, *, runnable: bool = True):
        from tabrl.playground import check_model_id, UnknownModelError

        catalog = await self.catalog()
        if model_id not in catalog:
            try:
                check_model_id(model_id)
            except UnknownModelError as error:
                raise ClientError(404, str(error)) from None
            raise ClientError(404, f"unknown model {model_id!r}")
        entry = catalog[model_id]
        if runnable and not entry.available:
            raise ClientError(409, f"{model_id} cannot run on this server: {entry.unavailable_reason}")
        return entry

    def accelerator(self) -> bool:
        import ray

        return ray.cluster_resources().get("GPU", 0) >= 1

    def check_steps(self, num_steps: int) -> None:
        from tabrl.training import StepsError, check_num_steps

        try:
            check_num_steps(num_steps)
        except StepsError as error:
            raise ClientError(422, str(error)) from None
        limit = self.settings.max_steps_gpu if self.accelerator() else self.settings.max_steps_cpu
        if num_steps > limit:
            raise ClientError(422, f"num_steps is {num_steps:,}; this server trains at most {limit:,} steps "
                                   f"per approach (TABRL_MAX_STEPS)")

    def estimate_for(self, model_id: str, num_steps: int) -> s.Estimate:
        from tabrl.training import scaled_ppo_config

        accelerator = self.accelerator()
        config = scaled_ppo_config(model_id, num_steps, accelerator=accelerator)
        return estimate(self.store.measurements(model_id, accelerator), config.num_envs, config.num_timesteps)

    def job(self, job_id: str) -> tuple[s.JobView, JobLayout]:
        if job_id in self.demos:
            view, folder = self.demos[job_id]
            return view, JobLayout(folder)
        job = self.store.get(job_id)
        if job is None:
            raise ClientError(404, f"no job {job_id}")
        return self.with_queue(job), self.settings.job(job_id)

    def with_queue(self, job: s.JobView) -> s.JobView:
        if job.status != "queued":
            return job
        position = self.store.queue_position(job.job_id)
        ahead = self.store.ids_with_status("queued")[: (position or 1) - 1]
        running = self.store.ids_with_status(*ACTIVE_STATUSES)
        wait = self._wait_seconds(running, ahead)
        return job.model_copy(update={"queue_position": position, "estimated_wait_seconds": wait})

    def _wait_seconds(self, running: list[str], ahead: list[str]) -> float | None:
        """Time left of the running jobs plus the queued ones ahead, spread over the batch slots."""
        if self.settings.max_running == 0:
            return None  # training is paused on this server
        total = 0.0
        now = time.time()
        for job_id in running + ahead:
            job = self.store.get(job_id)
            if job is None or job.estimated_seconds is None:
                return None  # one unmeasured job makes the wait unknown, not zero
            spent = now - job.started_at if job.started_at else 0.0
            total += max(0.0, job.estimated_seconds - spent)
        return round(total / self.settings.max_running, 1)

    # --- routes ----------------------------------------------------------------------

    @app.get("/api/health", response_model=s.Health)
    async def health(self) -> s.Health:
        import ray

        from tabrl import __version__

        resources = ray.cluster_resources()
        counts = self.store.counts()
        return s.Health(status="ok", version=__version__, ray_cpus=resources.get("CPU", 0),
                        ray_gpus=resources.get("GPU", 0),
                        jobs_running=sum(counts.get(x, 0) for x in ACTIVE_STATUSES),
                        jobs_queued=counts.get("queued", 0),
                        warming=await _call(self.coordinator.warm_status))

    @app.get("/api/playground/models", response_model=s.ModelList)
    async def models(self) -> s.ModelList:
        """Answers at once: while the list is still loading, `status` says how far it is."""
        return s.ModelList(models=list((self._catalog or {}).values()), status=self._catalog_status,
                           fetches=list(self._fetches.values()))

    @app.post("/api/playground/models/{model_id}/meshes", response_model=s.MeshFetch, status_code=202,
              responses=ERRORS, dependencies=Auth)
    async def fetch_meshes(self, model_id: ModelId) -> s.MeshFetch:
        """Download the model's robot meshes in the background; `GET /api/playground/models` shows
        the progress (`fetches`) and, once done, the model as available."""
        entry = await self.model(model_id, runnable=False)
        current = self._fetches.get(model_id)
        if current and current.state == "fetching":
            return current
        if entry.available or not entry.meshes_missing:
            raise ClientError(409, f"{model_id} needs no download: "
                                   f"{'it is ready' if entry.available else entry.unavailable_reason}")
        self._fetches[model_id] = s.MeshFetch(model_id=model_id, state="fetching")
        threading.Thread(target=self._fetch_meshes, args=(model_id,), daemon=True).start()
        return self._fetches[model_id]

    def _fetch_meshes(self, model_id: str) -> None:
        from tabrl.catalog import fetch_meshes, load_catalog

        def progress(robot: str, done: int, total: int) -> None:
            self._fetches[model_id] = s.MeshFetch(model_id=model_id, state="fetching", done_bytes=done,
                                                  total_bytes=total)

        try:
            fetch_meshes(model_id, progress)
            self._catalog = {entry.id: entry for entry in load_catalog()}
            self._fetches[model_id] = self._fetches[model_id].model_copy(update={"state": "done"})
        except Exception as error:  # MeshFetchError says why and what to do; anything else, the log
            log.warning("fetching meshes for %s failed: %s", model_id, error)
            self._fetches[model_id] = s.MeshFetch(model_id=model_id, state="failed", error=str(error))

    @app.get("/api/playground/models/{model_id}/thumbnail", response_class=FileResponse,
             responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, **ERRORS})
    async def thumbnail(self, model_id: ModelId):
        entry = await self.model(model_id, runnable=False)
        if not entry.thumbnail or not Path(entry.thumbnail).is_file():
            raise ClientError(404, f"{model_id} has no thumbnail: {entry.unavailable_reason or 'not rendered'}")
        kind = "image/jpeg" if entry.thumbnail.endswith(".jpg") else "image/png"
        return FileResponse(entry.thumbnail, media_type=kind)

    @app.get("/api/training/estimate", response_model=s.EstimateResponse, responses=ERRORS)
    async def get_estimate(self, model_id: Annotated[str, Query(pattern=s.MODEL_ID_PATTERN, max_length=80)],
                           num_steps: Annotated[int, Query()]) -> s.EstimateResponse:
        await self.model(model_id)
        self.check_steps(num_steps)
        value = await asyncio.to_thread(self.estimate_for, model_id, num_steps)
        return s.EstimateResponse(model_id=model_id, num_steps=num_steps, estimate=value)

    @app.post("/api/training/approaches", response_model=s.ApproachesResponse, responses=ERRORS, dependencies=Auth)
    async def approaches(self, body: s.ApproachesRequest) -> s.ApproachesResponse:
        from tabrl.rewards.prompt import PromptError, clean_prompt

        await self.model(body.model_id)
        try:
            prompt = clean_prompt(body.prompt)
        except PromptError as error:
            raise ClientError(422, str(error)) from None
        self.check_steps(body.num_steps)
        proposal = await _call(self.proposer.propose, body.model_id, prompt, body.variant)
        value = await asyncio.to_thread(self.estimate_for, body.model_id, body.num_steps)
        return s.ApproachesResponse(
            model_id=body.model_id, prompt=prompt, num_steps=body.num_steps, variant=body.variant,
            source=proposal["source"],
            warnings=proposal["warnings"],
            approaches=[s.ProposedApproach(**a, estimate=value) for a in proposal["approaches"]],
        )

    @app.post("/api/training/batch", status_code=202, response_model=s.JobAccepted, responses=ERRORS,
              dependencies=Auth)
    async def batch(self, body: s.BatchRequest) -> s.JobAccepted:
        from tabrl.catalog import base_policy_dir
        from tabrl.rewards.prompt import PromptError, clean_prompt

        entry = await self.model(body.model_id)
        try:
            prompt = clean_prompt(body.prompt)
        except PromptError as error:
            raise ClientError(422, str(error)) from None
        self.check_steps(body.num_steps)
        trials = []
        if body.approaches:
            trials = await asyncio.to_thread(self._checked_trials, body)
        value = await asyncio.to_thread(self.estimate_for, body.model_id, body.num_steps)
        job = s.JobView(
            job_id=new_job_id(), model_id=body.model_id, prompt=prompt, num_steps=body.num_steps,
            use_base_policy=body.use_base_policy,
            base_policy=body.use_base_policy and base_policy_dir(entry.id) is not None,
            status="queued", stage="waiting for a free slot", created_at=time.time(),
            estimated_seconds=_batch_seconds(value), trials=trials, render=body.render,
            source="request" if trials else None,
        )
        return await self.submit(job)

    async def submit(self, job: s.JobView) -> s.JobAccepted:
        """Queue a new job with the coordinator; where to follow it."""
        accepted = await _call(self.coordinator.submit, job.model_dump(mode="json"))
        current = self.store.get(job.job_id)
        return s.JobAccepted(job_id=job.job_id, status=current.status if current else "queued",
                             queue_position=accepted["queue_position"],
                             url=f"/api/training/jobs/{job.job_id}",
                             events_url=f"/api/training/jobs/{job.job_id}/events")

    def _checked_trials(self, body: s.BatchRequest) -> list[s.TrialView]:
        """Approaches sent by the client (edited weights, say): validated like a proposer's, never repaired."""
        from tabrl.rewards.validate import SpecError, validate_spec

        trials = []
        for index, approach in enumerate(body.approaches):
            try:
                spec = validate_spec(approach.reward, body.model_id)
            except SpecError as error:
                raise ClientError(422, f"approach {index + 1} ({approach.name}): {error}") from None
            trials.append(s.TrialView(index=index, name=approach.name, description=approach.description,
                                      status="pending", num_steps=body.num_steps, fraction=0.0,
                                      reward=spec.model_dump(mode="json")))
        return trials

    @app.get("/api/training/jobs", response_model=s.JobList)
    async def jobs(self, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> s.JobList:
        jobs = [self.with_queue(job) for job in self.store.list(limit)]
        demos = [job for job, _ in self.demos.values()]
        return s.JobList(jobs=jobs + demos)

    @app.get("/api/training/jobs/{job_id}", response_model=s.JobView, responses=ERRORS)
    async def get_job(self, job_id: JobId) -> s.JobView:
        return self.job(job_id)[0]

    @app.put("/api/training/jobs/{job_id}/favourite", response_model=s.JobView, responses=ERRORS,
             dependencies=Auth)
    async def favourite(self, job_id: JobId, body: s.FavouriteRequest) -> s.JobView:
        """Mark the favourite approach of a finished job (`{"approach": 1}`), or clear it (`null`)."""
        if job_id in self.demos:
            raise ClientError(409, "demo jobs are read-only; mark a favourite on a job trained here")

        def mark(job: s.JobView) -> None:
            if not is_terminal(job.status):
                raise ClientError(409, f"job {job_id} has not finished (status: {job.status}); "
                                       "mark a favourite once it has")
            if body.approach is not None and body.approach >= len(job.trials):
                raise ClientError(422, f"approach: job {job_id} has {len(job.trials)} approaches "
                                       f"(0 to {len(job.trials) - 1})")
            job.favourite = body.approach

        try:
            job = await asyncio.to_thread(self.store.update, job_id, mark)
        except KeyError:
            raise ClientError(404, f"no job {job_id}") from None
        return self.with_queue(job)

    @app.post("/api/training/jobs/{job_id}/evolve", status_code=202, response_model=s.JobAccepted,
              responses=ERRORS, dependencies=Auth)
    async def evolve(self, job_id: JobId, body: s.EvolveRequest | None = None) -> s.JobAccepted:
        """Three variants of the favourite (or `approach`), moved toward the intents its
        behaviour report says it missed (`tabrl.evolve`), fine-tuned from its own checkpoint
        as a new job."""
        from tabrl.errors import error_line
        from tabrl.evolve import evolve
        from tabrl.rewards.families import feature_family
        from tabrl.rewards.spec import Approach, RewardSpec

        body = body or s.EvolveRequest()
        if job_id in self.demos:
            raise ClientError(409, "demo jobs have no checkpoints to evolve; evolve a job trained here")
        parent = self.job(job_id)[0]
        if not is_terminal(parent.status):
            raise ClientError(409, f"job {job_id} has not finished (status: {parent.status})")
        index = body.approach if body.approach is not None else parent.favourite
        if index is None:
            raise ClientError(409, f"job {job_id} has no favourite: mark one (PUT .../favourite) or "
                                   "name the approach to evolve")
        if index >= len(parent.trials):
            raise ClientError(422, f"approach: job {job_id} has {len(parent.trials)} approaches")
        trial = parent.trials[index]
        checkpoint = self.settings.job(job_id).checkpoint(index)
        if trial.status != "succeeded" or not (checkpoint / "config.json").is_file():
            raise ClientError(409, f"approach {index} ({trial.name}) has no trained checkpoint to start from "
                                   f"(status: {trial.status})")
        num_steps = body.num_steps if body.num_steps is not None else parent.num_steps
        self.check_steps(num_steps)
        approach = Approach(name=trial.name, description=trial.description,
                            reward=RewardSpec.model_validate(trial.reward))
        try:
            variants = evolve(approach, trial.behaviour.intents if trial.behaviour else None,
                              feature_family(parent.model_id))
        except ValueError as error:  # a moved number no spec allows: say so, change nothing
            raise ClientError(422, f"approach {index} ({trial.name}) cannot be evolved: {error_line(error)}") from None
        value = await asyncio.to_thread(self.estimate_for, parent.model_id, num_steps)
        job = s.JobView(
            job_id=new_job_id(), model_id=parent.model_id, prompt=parent.prompt, num_steps=num_steps,
            use_base_policy=False, base_policy=False, status="queued", stage="waiting for a free slot",
            created_at=time.time(), estimated_seconds=_batch_seconds(value), render=parent.render,
            source="evolved", trials=[
                s.TrialView(index=i, name=v.name, description=v.description, status="pending",
                            num_steps=num_steps, fraction=0.0, reward=v.reward.model_dump(mode="json"))
                for i, v in enumerate(variants)],
            evolved_from=s.EvolvedFrom(job_id=job_id, approach=index, name=trial.name),
        )
        return await self.submit(job)

    @app.post("/api/training/jobs/{job_id}/cancel", status_code=202, response_model=s.JobView, responses=ERRORS,
              dependencies=Auth)
    async def cancel(self, job_id: JobId) -> s.JobView:
        """Cancel a job: a queued one at once (it never starts); a running one's trials stop at
        their next report and the job ends `cancelled` (trials that finished keep their
        checkpoints). 409 once it has finished, 404 for an unknown id."""
        if job_id in self.demos:
            raise ClientError(409, "demo jobs are read-only; there is nothing to cancel")

        def cancel(job: s.JobView) -> None:
            if is_terminal(job.status):
                raise ClientError(409, f"job {job_id} has already finished (status: {job.status}); "
                                       "there is nothing to cancel")
            if job.status == "queued":
                mark_cancelled(job)
            else:
                job.stage = "cancelling: stopping the trials"

        def request() -> s.JobView:
            self.store.request_cancel(job_id)  # first, so a job starting right now sees it too
            return self.store.update(job_id, cancel)

        if self.store.get(job_id) is None:
            raise ClientError(404, f"no job {job_id}")
        job = await asyncio.to_thread(request)
        return self.with_queue(job)

    @app.get("/api/training/jobs/{job_id}/events", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}, **ERRORS})
    async def events(self, job_id: JobId):
        """Server-Sent Events: `event: job` with the JobView at every change; ends after a terminal status."""
        first, _ = self.job(job_id)

        async def stream():
            last, quiet = None, 0.0
            while True:
                revision = self.store.revision(job_id) if not first.demo else 0
                if revision != last:
                    last, quiet = revision, 0.0
                    job, _ = self.job(job_id)
                    yield f"event: job\ndata: {job.model_dump_json()}\n\n"
                    if is_terminal(job.status):
                        return
                elif quiet >= 15:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(0.5)
                quiet += 0.5

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _video(self, job_id: str, index: int | None, download: bool) -> FileResponse:
        job, layout = self.job(job_id)
        if index is None:
            path, name = layout.composite, f"tabrl-{job.model_id}-{job_id}-side-by-side.mp4"
        else:
            if index >= len(job.trials):
                raise ClientError(404, f"job {job_id} has {len(job.trials)} approaches")
            path = layout.video(index)
            name = f"tabrl-{job.model_id}-{_safe_name(job.trials[index].name)}-{job_id}.mp4"
        if not path.is_file():
            raise ClientError(404, f"no video yet for job {job_id} (status: {job.status})")
        return FileResponse(path, media_type="video/mp4", filename=name,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/training/jobs/{job_id}/videos/{index}", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}, **ERRORS})
    async def video(self, job_id: JobId, index: Index, download: bool = False):
        return self._video(job_id, index, download)

    @app.get("/api/training/jobs/{job_id}/composite", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}, **ERRORS})
    async def composite(self, job_id: JobId, download: bool = False):
        return self._video(job_id, None, download)

    @app.post("/api/training/render-video", response_model=s.RenderVideoResponse, responses=ERRORS,
              dependencies=Auth)
    async def render_video(self, body: s.RenderVideoRequest) -> s.RenderVideoResponse:
        job, layout = self.job(body.job_id)
        if job.demo:
            raise ClientError(409, "demo jobs ship without checkpoints; train one to render it again")
        checkpoint = layout.checkpoint(body.index)
        if body.index >= len(job.trials):
            raise ClientError(404, f"job {body.job_id} has {len(job.trials)} approaches")
        if job.trials[body.index].status != "succeeded" or not (checkpoint / "config.json").is_file():
            raise ClientError(409, f"approach {body.index} of job {body.job_id} has no trained policy "
                                   f"(job: {job.status}, approach: {job.trials[body.index].status})")
        name = f"render-{body.seconds:g}s-seed{body.seed}-{body.fps}fps-{body.width}x{body.height}.mp4"
        out = layout.rendering(body.index, name)
        frames = await _call(self.renderer.render_one, str(checkpoint), str(out), body.seconds, body.fps,
                             body.width, body.height, body.seed)
        return s.RenderVideoResponse(
            job_id=body.job_id, index=body.index, frames=frames, seconds=body.seconds,
            video_url=f"/api/training/jobs/{body.job_id}/renders/{body.index}/{name}")

    @app.get("/api/training/jobs/{job_id}/renders/{index}/{name}", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}, **ERRORS})
    async def rendered(self, job_id: JobId, index: Index,
                       name: Annotated[str, PathParam(pattern=r"^render-[0-9a-z.\-]{1,80}\.mp4$")],
                       download: bool = False):
        _, layout = self.job(job_id)
        path = layout.rendering(index, name)
        if not path.is_file():
            raise ClientError(404, "no such rendering")
        return FileResponse(path, media_type="video/mp4", filename=f"tabrl-{job_id}-{index}-{name}",
                            content_disposition_type="attachment" if download else "inline")

    @app.post("/api/policies/{policy_id}/act", response_model=s.ActResponse, responses=ERRORS, dependencies=Auth)
    async def act(self, policy_id: PolicyId, body: s.ActRequest) -> s.ActResponse:
        job_id, index = policy_id.rsplit("-", 1)
        job, layout = self.job(job_id)
        checkpoint = layout.checkpoint(int(index))
        if int(index) >= len(job.trials) or job.trials[int(index)].status != "succeeded" or \
                not (checkpoint / "params.msgpack").is_file():
            raise ClientError(404, f"no trained policy {policy_id}")
        action = await _call(self.policies.act, str(checkpoint), body.observation, body.deterministic, body.time)
        return s.ActResponse(policy_id=policy_id, action=action)
