"""The Serve application graph: `serve run serve_app.app:app` or `serve run serve_app/config.yaml`.

    Api (FastAPI ingress) ─┬─> Proposer
                           ├─> TrainingCoordinator ──(Ray task per batch: Tune)──> Proposer, Renderer
                           ├─> Renderer
                           └─> PolicyServer

`build_app` gives the renderer a GPU share when the cluster has GPUs (EGL on
the driver); on a CPU-only machine everything reserves 0 CPUs so that Tune's
trials get the cores.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from serve_app.api import Api
from serve_app.deployments import PolicyServer, Proposer, Renderer, TrainingCoordinator
from serve_app.settings import load_settings

APP_NAME = "tabrl"


def build_app(args: dict[str, Any] | None = None) -> serve.Application:
    import ray

    settings = load_settings()
    renderer = Renderer
    gpus = ray.cluster_resources().get("GPU", 0) if ray.is_initialized() else 0
    if gpus >= 1 and settings.render_gpus > 0:
        renderer = Renderer.options(ray_actor_options={"num_cpus": 0, "num_gpus": settings.render_gpus})
    proposer = Proposer.bind()
    rendering = renderer.bind()
    return Api.bind(proposer, TrainingCoordinator.bind(proposer, rendering), rendering, PolicyServer.bind())


app = build_app()
