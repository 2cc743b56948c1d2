"""Every spec is checked before anyone trains on it.

`spec_problems` lists what is wrong, in words a person can act on:
known features only, formulas that pass the sandbox, targets inside the
feature's documented range, at least one term that rewards a motion or a pose
(not only penalties), and a finite reward on a batch of sample states from the
real environment (`tabrl.rewards.samples`). Field-level bounds (weights,
tolerances, frequencies, ...) are enforced by the pydantic model itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabrl.rewards.features import REWARDING_ROLES, FeatureInfo, feature_catalog
from tabrl.rewards.sandbox import SandboxError, parse_expression
from tabrl.rewards.spec import RewardSpec, Term


class SpecError(ValueError):
    """A spec failed validation; `problems` lists why."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _rewards_motion_or_pose(term: Term, by_name: dict[str, FeatureInfo], used: set[str]) -> bool:
    if term.weight <= 0:
        return False
    if term.kind == "expression":
        return any(by_name[name].role in REWARDING_ROLES for name in used)
    return term.kind != "penalty" and by_name[term.feature].role in REWARDING_ROLES


def static_problems(spec: RewardSpec, catalog: list[FeatureInfo]) -> list[str]:
    """Everything that can be checked without sample states."""
    by_name = {f.name: f for f in catalog}
    sizes = {f.name: f.size for f in catalog}
    problems, rewarding = [], False
    for term in spec.terms:
        used: set[str] = set()
        if term.kind == "expression":
            try:
                used = set(parse_expression(term.expression, sizes).names)
            except SandboxError as error:
                problems.append(f"term {term.name!r}: {error}")
                continue
        elif term.feature not in by_name:
            problems.append(f"term {term.name!r}: unknown feature {term.feature!r}")
            continue
        else:
            info = by_name[term.feature]
            if not info.low <= term.target <= info.high:
                problems.append(
                    f"term {term.name!r}: target {term.target:g} is outside {info.name}'s range "
                    f"[{info.low:g}, {info.high:g}] {info.unit}"
                )
            if term.kind == "oscillate" and term.amplitude > info.high - info.low:
                problems.append(
                    f"term {term.name!r}: amplitude {term.amplitude:g} is wider than {info.name}'s range"
                )
        rewarding = rewarding or _rewards_motion_or_pose(term, by_name, used)
    if not rewarding and not problems:
        problems.append(
            "no term rewards a motion or a pose (only penalties): add a positive-weight "
            "track, oscillate or maximize term on a pose or motion feature"
        )
    return problems


def evaluate_on_samples(spec: RewardSpec, model_id: str, samples: dict[str, Any] | None = None):
    """(reward [n], {term: [n]}) of the spec on sample states of the model."""
    import jax

    from tabrl.rewards.compile import compile_spec
    from tabrl.rewards.samples import sample_features

    samples = samples if samples is not None else sample_features(model_id)
    compiled = compile_spec(spec, model_id)
    reward, terms = jax.vmap(compiled.fn, in_axes=(None, 0))(compiled.params, samples)
    return np.asarray(reward), {name: np.asarray(value) for name, value in terms.items()}


def spec_problems(spec: RewardSpec, model_id: str, samples: dict[str, Any] | None = None) -> list[str]:
    """What is wrong with `spec` for `model_id`; empty when it is fine to train."""
    problems = static_problems(spec, feature_catalog(model_id))
    if problems:
        return problems
    try:
        reward, terms = evaluate_on_samples(spec, model_id, samples)
    except (TypeError, ValueError, IndexError) as error:  # e.g. a formula mixing group sizes
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        return [f"the reward cannot be computed on sample states: {first_line}"]
    bad = [name for name, value in terms.items() if not np.all(np.isfinite(value))]
    if bad or not np.all(np.isfinite(reward)):
        return [f"the reward is not finite on sample states (terms: {', '.join(bad) or 'total'})"]
    return []


def validate_spec(spec: RewardSpec | dict, model_id: str) -> RewardSpec:
    """The spec, parsed and checked; raises `SpecError` (a ValueError) otherwise."""
    from pydantic import ValidationError

    if not isinstance(spec, RewardSpec):
        try:
            spec = RewardSpec.model_validate(spec)
        except ValidationError as error:
            raise SpecError([describe_validation_error(error)]) from None
    problems = spec_problems(spec, model_id)
    if problems:
        raise SpecError(problems)
    return spec


def describe_validation_error(error) -> str:
    """A pydantic error in one short line (first three problems)."""
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", "invalid"))
    more = len(error.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
