"""cluster.yaml and the Serve configs, checked against Ray's own schemas (no cloud, no cluster).

`ray up` fills a cluster config with the provider's defaults (`prepare_config`)
and validates it against `ray/autoscaler/ray-schema.json` (`validate_config`);
the same two calls run here. Which worker type the autoscaler launches is
checked by running Ray's autoscaler-v2 scheduler (what `ray up` uses) on the
node types of this file: H100 first, the fallback type when H100 is marked
unavailable.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CLUSTER.read_text())


@pytest.fixture(scope="module")
def prepared(raw) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)  # raises jsonschema.ValidationError / ValueError when invalid
    return config


def test_cluster_yaml_validates_against_rays_schema(prepared):
    assert prepared["provider"]["type"] == "aws"
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_a_broken_config_is_rejected(raw):
    """The validation is real: a node type without resources fails Ray's schema."""
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    broken = copy.deepcopy(raw)
    del broken["available_node_types"]["gpu_h100"]["resources"]
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_cpu_head_and_gpu_worker_types(raw):
    types = raw["available_node_types"]
    head = types[raw["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and head["resources"]["CPU"] > 0
    h100, fallback = types["gpu_h100"], types["gpu_fallback"]
    assert h100["node_config"]["InstanceType"].startswith("p5.")  # H100
    assert fallback["node_config"]["InstanceType"] != h100["node_config"]["InstanceType"]
    for worker in (h100, fallback):
        assert worker["resources"]["GPU"] >= 1
        assert worker["min_workers"] == 0 < worker["max_workers"] <= raw["max_workers"]
    # Equal resources make the scheduler's scores tie, so `priority` decides (module docstring).
    assert h100["resources"] == fallback["resources"]
    assert h100["priority"] > fallback["priority"]


def test_setup_installs_the_cuda_lock_and_the_project(raw):
    setup = "\n".join(raw["setup_commands"])
    assert "uv pip sync" in setup and "requirements-cuda.lock" in setup
    assert "--no-deps -e ." in setup
    assert raw["file_mounts"]["~/tabrl"] == "."
    assert ".venv" in raw["rsync_exclude"]
    lock = (REPO / "requirements-cuda.lock").read_text()
    assert "jax-cuda12-plugin" in lock  # the lock the setup installs really is the CUDA one


def test_shared_storage_settings(raw):
    setup = "\n".join(raw["setup_commands"])
    assert "TABRL_TUNE_STORAGE=s3://" in setup
    assert "TABRL_DATA_DIR=/mnt/efs/" in setup and "mount -t nfs4" in setup
    # Ray (and every replica, trial and job it starts) gets that environment.
    for command in raw["head_start_ray_commands"] + raw["worker_start_ray_commands"]:
        assert command.startswith(". ~/tabrl.env && ")


def _schedule(prepared, demand: dict, count: int = 3, **availability) -> dict[str, int]:
    from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig
    from ray.autoscaler.v2.scheduler import ResourceDemandScheduler, SchedulingRequest
    from ray.autoscaler.v2.utils import ResourceRequestUtil
    from ray.core.generated.autoscaler_pb2 import ResourceRequestByCount

    config = AutoscalingConfig(copy.deepcopy(prepared))
    request = SchedulingRequest(
        disable_launch_config_check=True,
        node_type_configs=config.get_node_type_configs(),
        max_num_nodes=config.get_max_num_worker_nodes(),
        resource_requests=[ResourceRequestByCount(request=ResourceRequestUtil.make(demand), count=count)],
        **availability,
    )
    reply = ResourceDemandScheduler().schedule(request)
    return {launch.instance_type: launch.count for launch in reply.to_launch}


def test_autoscaler_launches_h100_first(prepared):
    assert _schedule(prepared, {"CPU": 1, "GPU": 1}) == {"gpu_h100": 1}
    assert _schedule(prepared, {"CPU": 1, "GPU": 0.33}) == {"gpu_h100": 1}


def test_autoscaler_falls_back_when_h100_is_unavailable(prepared):
    launched = _schedule(prepared, {"CPU": 1, "GPU": 1},
                         recoverable_resource_availabilities={"gpu_h100": 0.0})
    assert launched == {"gpu_fallback": 1}


@pytest.mark.parametrize("name", ["config.cluster.yaml", "config.yaml"])
def test_serve_configs_validate_against_serve_schema(name):
    from ray.serve.schema import ServeDeploySchema

    path = REPO / "serve_app" / name
    if not path.is_file():
        pytest.skip(f"serve_app/{name} is not in this checkout")
    schema = ServeDeploySchema.model_validate(yaml.safe_load(path.read_text()))
    assert [app.import_path for app in schema.applications] == ["serve_app.app:app"]
    if name == "config.cluster.yaml":
        options = {d.name: d.ray_actor_options for d in schema.applications[0].deployments}
        assert options["Renderer"].num_gpus > 0  # EGL on the GPU
        assert not options["Proposer"].num_gpus  # the proposer stays on a CPU
