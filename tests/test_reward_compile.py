"""Reward specs as data: schema, bounds, compilation to one shared JAX program,
and validation against sample states of the real environment."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from tabrl.rewards.compile import compile_spec
from tabrl.rewards.features import feature_catalog
from tabrl.rewards.library import linear, osc, penalty, track
from tabrl.rewards.samples import rollout_features, sample_features
from tabrl.rewards.spec import SLOT_KINDS, RewardSpec, Term
from tabrl.rewards.validate import SpecError, spec_problems, validate_spec

GO1 = "Go1JoystickFlatTerrain"


@pytest.fixture(scope="module")
def go1_samples():
    return sample_features(GO1)


def spec(*terms, clock_hz=1.0) -> RewardSpec:
    return RewardSpec(clock_hz=clock_hz, terms=list(terms))


def test_json_schema_documents_terms_and_bounds():
    schema = RewardSpec.model_json_schema()
    term = schema["$defs"]["Term"]["properties"]
    assert set(term["kind"]["enum"]) == {*SLOT_KINDS, "expression"}
    assert term["weight"]["maximum"] == 10 and term["frequency"]["maximum"] == 5
    assert "clock_hz" in schema["properties"]


@pytest.mark.parametrize(
    "bad",
    [
        {"terms": []},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll", "weight": 11}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll", "target": float("nan")}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll", "tolerance": 0}]},
        {"terms": [{"name": "a", "kind": "oscillate", "feature": "roll", "frequency": 50}]},
        {"terms": [{"name": "a", "kind": "teleport", "feature": "roll"}]},
        {"terms": [{"name": "a", "kind": "track"}]},
        {"terms": [{"name": "a", "kind": "expression"}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll", "expression": "roll"}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll", "code": "import os"}]},
        {"terms": [{"name": "Bad Name!", "kind": "track", "feature": "roll"}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll"}, {"name": "a", "kind": "track", "feature": "pitch"}]},
        {"terms": [{"name": "a", "kind": "track", "feature": "roll"}, {"name": "b", "kind": "track", "feature": "roll"}]},
        {"terms": [{"name": f"t{i}", "kind": "track", "feature": "roll"} for i in range(13)]},
        {"clock_hz": -1, "terms": [{"name": "a", "kind": "track", "feature": "roll"}]},
    ],
)
def test_out_of_bounds_specs_are_rejected_by_the_model(bad):
    with pytest.raises(ValidationError):
        RewardSpec.model_validate(bad)


def test_specs_with_one_structure_share_one_program():
    import jax
    import jax.numpy as jnp

    a = compile_spec(spec(osc("hips", "hip_angles", 0.3, 1.5, 0.2, 2.0), track("tall", "base_height", 0.3, 0.05)), GO1)
    b = compile_spec(spec(osc("hips", "hip_angles", 0.1, 3.0, 0.1, 0.5), track("tall", "base_height", 0.2, 0.02)), GO1)
    c = compile_spec(spec(osc("hips", "hip_angles", 0.1, 3.0, 0.1, 0.5), track("tall", "pitch", 0.2, 0.02)), GO1)
    assert a.fn is b.fn and a.structure == b.structure
    assert a.structure != c.structure
    n_features = len(feature_catalog(GO1))
    assert a.params["slots"]["weight"].shape == (len(SLOT_KINDS), n_features)
    assert int(jnp.count_nonzero(a.params["slots"]["weight"])) == 2  # unused slots weigh 0

    traces = []

    def traced(params, features):
        traces.append(1)
        return a.fn(params, features)

    jitted = jax.jit(traced)
    features = {name: jnp.asarray(value[0]) for name, value in sample_features(GO1).items()}
    reward_a, _ = jitted(a.params, features)
    reward_b, _ = jitted(b.params, features)
    assert len(traces) == 1, "the second spec recompiled"
    assert float(reward_a) != float(reward_b)


def test_terms_compute_the_documented_formulas(go1_samples):
    import jax.numpy as jnp

    row = {name: jnp.asarray(value[3]) for name, value in go1_samples.items()}
    t = float(row["time"])
    hips = np.asarray(row["hip_angles"])
    compiled = compile_spec(
        spec(
            track("tall", "base_height", 0.3, 0.05, 2.0),
            osc("sway", "hip_angles", 0.3, 1.5, 0.2, 1.5, target=0.1, phase=0.5),
            Term(name="spin", kind="maximize", feature="yaw_rate", target=1.0, tolerance=2.0, weight=-0.5),
            penalty("level", "roll", 0.7, tolerance=0.001),
            linear("smooth", "action_rate", -0.02, tolerance=2.0),
            Term(name="beat", kind="expression", expression="clock_sin * 2", weight=1.0),
            clock_hz=2.0,
        ),
        GO1,
    )
    reward, terms = compiled.fn(compiled.params, row)
    moving = 0.1 + 0.3 * np.sin(2 * math.pi * 1.5 * t + 0.5)
    expected = {
        "tall": 2.0 * math.exp(-(((float(row["base_height"]) - 0.3) / 0.05) ** 2)),
        "sway": 1.5 * float(np.mean(np.exp(-(((hips - moving) / 0.2) ** 2)))),
        "spin": -0.5 * math.tanh((float(row["yaw_rate"]) - 1.0) / 2.0),
        "level": -0.7 * min((float(row["roll"]) / 0.001) ** 2, 25.0),
        "smooth": -0.02 * max(-10.0, min(10.0, float(row["action_rate"]) / 2.0)),
        "beat": 2 * math.sin(2 * math.pi * 2.0 * t),
    }
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert float(reward) == pytest.approx(sum(expected.values()), rel=1e-4, abs=1e-5)


def test_sample_states_come_from_the_real_environment():
    from tabrl.playground import load_env

    features = rollout_features(load_env("CartpoleBalance"), n_envs=2, n_steps=3)
    catalog = {f.name: f.size for f in feature_catalog("CartpoleBalance")}
    assert set(features) == set(catalog) - {"clock_sin", "clock_cos"}
    assert features["pos_slider"].shape == (6,) and features["joint_positions"].shape == (6, 2)
    assert np.all(features["time"] > 0) and np.all(np.isfinite(features["task_reward"]))
    assert np.ptp(features["vel_hinge_1"]) > 0  # random actions moved it


def test_bundled_caches_match_this_install():
    """The files that make a first `tabrl propose` fast must match the installed
    Playground; after a version bump, run `python -m tabrl.rewards.bundle`."""
    from tabrl.rewards.bundle import BUNDLED_MODELS
    from tabrl.rewards.cache import BUNDLED_DIR
    from tabrl.rewards.families import known_model_ids, model_ids_name
    from tabrl.rewards.samples import samples_name

    assert (BUNDLED_DIR / model_ids_name()).is_file()
    assert set(BUNDLED_MODELS) <= set(known_model_ids())
    for model_id in BUNDLED_MODELS:
        path = BUNDLED_DIR / samples_name(model_id)
        assert path.is_file(), f"stale bundle for {model_id}: run python -m tabrl.rewards.bundle"
        with np.load(path) as stored:
            names = set(stored.files)
        assert names == {f.name for f in feature_catalog(model_id)} - {"clock_sin", "clock_cos"}


def test_go1_samples_cover_the_catalog(go1_samples):
    catalog = feature_catalog(GO1)
    for info in catalog:
        if info.name in ("clock_sin", "clock_cos"):
            continue
        values = go1_samples[info.name]
        assert values.shape[1:] == ((info.size,) if info.size > 1 else ()), info.name
        assert np.all(np.isfinite(values)), info.name
    assert 0.1 < float(np.median(go1_samples["base_height"])) < 0.4  # standing-ish, in metres


@pytest.mark.parametrize(
    "terms, problem",
    [
        ([track("x", "wingspan", 1.0, 0.1)], "unknown feature"),
        ([track("x", "base_height", 5.0, 0.1)], "outside base_height's range"),
        ([penalty("x", "joint_speed", 1.0), linear("y", "action_rate", -1.0)], "only penalties"),
        ([track("x", "action_rate", 0.0, 1.0)], "only penalties"),
        ([Term(name="x", kind="expression", expression="__import__('os').system('id')")], "not allowed"),
        ([Term(name="x", kind="expression", expression="hip_angles + fr_leg_angles")], "cannot be computed"),
    ],
)
def test_validation_explains_what_is_wrong(terms, problem):
    problems = spec_problems(spec(*terms), GO1)
    assert any(problem in p for p in problems), problems
    with pytest.raises(SpecError):
        validate_spec(spec(*terms), GO1)


def test_validation_accepts_a_good_spec_and_reports_finite_output(go1_samples):
    good = spec(osc("hips", "hip_angles", 0.3, 1.5, 0.2, 2.0), Term(name="e", kind="expression", expression="1 / roll"))
    assert spec_problems(good, GO1) == []
    assert validate_spec(good.model_dump(), GO1) == good
