"""A small typed client for the TabRL Serve HTTP API (the only thing the UI talks to).

Every call returns the API's own pydantic models (`serve_app.schemas`), so the
page never handles raw JSON. Errors become `ApiError` with the API's `detail`
text, ready to show to a person.

    TABRL_API_URL     the API's root, default http://localhost:8000
    TABRL_API_TOKEN   when set, sent as `Authorization: Bearer <token>` on every request
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
from pydantic import TypeAdapter

from serve_app.schemas import (
    ApproachesResponse,
    EstimateResponse,
    Health,
    MeshFetch,
    JobAccepted,
    JobList,
    JobView,
    ModelList,
    RenderVideoResponse,
)
from tabrl.rewards.spec import Approach

DEFAULT_API_URL = "http://localhost:8000"


class ApiError(Exception):
    """The API said no (4xx/5xx) or could not be reached; `str()` is for people."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def api_url() -> str:
    return (os.environ.get("TABRL_API_URL") or DEFAULT_API_URL).rstrip("/")


def _headers() -> dict[str, str]:
    token = os.environ.get("TABRL_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # FastAPI validation errors: a list of {loc, msg}
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}" for item in detail
        )
    return str(detail or response.text[:300] or response.reason_phrase)


class ApiClient:
    """One client per UI process; httpx.Client is thread-safe and keeps connections alive."""

    def __init__(self, base_url: str | None = None, timeout: float = 30.0):
        self.base_url = (base_url or api_url()).rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=_headers(), timeout=timeout)

    # --- plumbing ---------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(f"the TabRL API at {self.base_url} cannot be reached ({type(error).__name__}: "
                           f"{error}); is `tabrl serve` running?") from None  # status None: not answered
        if response.status_code >= 400:
            retry = response.headers.get("Retry-After")
            raise ApiError(_detail(response), status=response.status_code,
                           retry_after=float(retry) if retry and retry.replace(".", "", 1).isdigit() else None)
        return response

    def absolute(self, path: str) -> str:
        """A path returned by the API (video_url, composite_url) as a full URL."""
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    # --- endpoints --------------------------------------------------------------

    def health(self) -> Health:
        return Health.model_validate(self._request("GET", "/api/health", timeout=5.0).json())

    def models(self) -> ModelList:
        return ModelList.model_validate(self._request("GET", "/api/playground/models").json())

    def fetch_meshes(self, model_id: str) -> MeshFetch:
        """Start downloading a model's robot meshes (progress: `models().fetches`)."""
        return MeshFetch.model_validate(self._request("POST", f"/api/playground/models/{model_id}/meshes").json())

    def thumbnail(self, model_id: str) -> bytes | None:
        try:
            return self._request("GET", f"/api/playground/models/{model_id}/thumbnail").content
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def estimate(self, model_id: str, num_steps: int) -> EstimateResponse:
        params = {"model_id": model_id, "num_steps": num_steps}
        return EstimateResponse.model_validate(self._request("GET", "/api/training/estimate", params=params).json())

    def approaches(self, model_id: str, prompt: str, num_steps: int, variant: int = 0) -> ApproachesResponse:
        """Three approaches; `variant` > 0 asks for three others (Regenerate)."""
        body = {"model_id": model_id, "prompt": prompt, "num_steps": num_steps, "variant": variant}
        # An LLM proposer may take a while; the offline one answers at once.
        response = self._request("POST", "/api/training/approaches", json=body, timeout=120.0)
        return ApproachesResponse.model_validate(response.json())

    def submit_batch(
        self,
        model_id: str,
        prompt: str,
        num_steps: int,
        *,
        approaches: list[Approach] | None = None,
        use_base_policy: bool = True,
        render: dict | None = None,
    ) -> JobAccepted:
        body: dict = {"model_id": model_id, "prompt": prompt, "num_steps": num_steps,
                      "use_base_policy": use_base_policy}
        if approaches is not None:
            # Only the Approach fields: a ProposedApproach's estimate is not part of a batch.
            body["approaches"] = [
                Approach.model_validate(a.model_dump(include={"name", "description", "reward"})).model_dump(mode="json")
                for a in approaches
            ]
        if render:
            body["render"] = render
        response = self._request("POST", "/api/training/batch", json=body, timeout=60.0)
        return JobAccepted.model_validate(response.json())

    def jobs(self, limit: int = 50) -> JobList:
        """Newest first (the API appends its demo jobs)."""
        return JobList.model_validate(self._request("GET", "/api/training/jobs", params={"limit": limit}).json())

    def job(self, job_id: str) -> JobView:
        return JobView.model_validate(self._request("GET", f"/api/training/jobs/{job_id}").json())

    def set_favourite(self, job_id: str, approach: int | None) -> JobView:
        """Mark approach `approach` of a finished job as the favourite; None clears it."""
        response = self._request("PUT", f"/api/training/jobs/{job_id}/favourite", json={"approach": approach})
        return JobView.model_validate(response.json())

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued or running job (a running one ends `cancelled` once its trials stop)."""
        return JobView.model_validate(self._request("POST", f"/api/training/jobs/{job_id}/cancel").json())

    def evolve(self, job_id: str, approach: int | None = None) -> JobAccepted:
        """Three variants of the job's favourite (or `approach`), fine-tuned from its checkpoint: a new job."""
        response = self._request("POST", f"/api/training/jobs/{job_id}/evolve", json={"approach": approach})
        return JobAccepted.model_validate(response.json())

    def render_video(self, job_id: str, index: int, **options) -> RenderVideoResponse:
        body = {"job_id": job_id, "index": index, **options}
        response = self._request("POST", "/api/training/render-video", json=body, timeout=600.0)
        return RenderVideoResponse.model_validate(response.json())

    def media(self, path: str) -> bytes:
        """The bytes of a video (video_url / composite_url)."""
        return self._request("GET", path, timeout=120.0).content

    def events(self, job_id: str, *, read_timeout: float = 60.0) -> Iterator[JobView]:
        """The job's Server-Sent Events, one JobView per `event: job`, until the server closes the stream."""
        timeout = httpx.Timeout(10.0, read=read_timeout)
        try:
            with self._http.stream("GET", f"/api/training/jobs/{job_id}/events", timeout=timeout,
                                   headers={"Accept": "text/event-stream"}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_detail(response), status=response.status_code)
                yield from parse_sse(response.iter_lines())
        except httpx.HTTPError as error:
            raise ApiError(f"the event stream of job {job_id} broke ({type(error).__name__}: {error})") from None

    def close(self) -> None:
        self._http.close()


_JOB_VIEW = TypeAdapter(JobView)


def parse_sse(lines) -> Iterator[JobView]:
    """Parse a text/event-stream into JobViews: `event: job` blocks whose `data:` is a JobView's JSON.

    Comments (`:` keep-alives), other event types and blank `data` are skipped.
    """
    event, data = "message", []
    for line in lines:
        if line == "":
            if data and event == "job":
                yield _JOB_VIEW.validate_python(json.loads("\n".join(data)))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data and event == "job":
        yield _JOB_VIEW.validate_python(json.loads("\n".join(data)))
