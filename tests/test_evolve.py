"""Evolve a favourite (tabrl.evolve): three variants moved toward what its report says it
missed. The HTTP flow (a real job evolved from a trained checkpoint) is in tests/test_serve.py."""

from __future__ import annotations

import pytest

from tabrl.behaviour.intents import IntentResult, IntentSummary
from tabrl.evolve import evolve
from tabrl.rewards.library import go1_behaviours
from tabrl.rewards.spec import Approach, RewardSpec, Term


def _hula() -> Approach:
    return {b.key: b for b in go1_behaviours()}["hula"].approaches[0]


def _summary(results: list[IntentResult], main: str) -> IntentSummary:
    return IntentSummary(results=results, met=sum(r.status == "met" for r in results), partly=0,
                         not_met=sum(r.status == "not met" for r in results), not_measured=0,
                         main_term=main, main_met=False, sentence="")


def _terms(approach: Approach) -> dict[str, Term]:
    return {t.name: t for t in approach.reward.terms}


def test_each_variant_moves_the_missed_terms_its_own_way_and_leaves_the_rest():
    hula = _hula()
    missed = [
        IntentResult(term="hip_sway", kind="oscillate", feature="hip_angles", weight=2.0, status="not met",
                     target=0.3, measured=0.1, target_frequency=1.5, measured_frequency=1.5, sentence=""),
        IntentResult(term="body_height", kind="track", feature="base_height", weight=0.5, status="not met",
                     target=0.275, measured=0.30, sentence=""),
        IntentResult(term="side_steps", kind="oscillate", feature="lateral_velocity", weight=1.0, status="met",
                     target=0.35, measured=0.35, target_frequency=0.75, measured_frequency=0.75, sentence=""),
    ]
    stronger, bolder, steadier = evolve(hula, _summary(missed, "hip_sway"), "go1")
    before = _terms(hula)
    assert [v.name for v in (stronger, bolder, steadier)] == [
        "Stronger Hula Hip Sway", "Bolder Hula Hip Sway", "Steadier Hula Hip Sway"]
    assert "hip_sway" in stronger.description and "body_height" in stronger.description
    # Stronger: twice the weight on what was missed, nothing else.
    assert _terms(stronger)["hip_sway"].weight == 2 * before["hip_sway"].weight
    assert _terms(stronger)["side_steps"] == before["side_steps"]
    # Bolder: past the target by what was missing (the body stayed too high: it asks lower).
    assert _terms(bolder)["body_height"].target < before["body_height"].target
    assert bolder.reward.pose.height < hula.reward.pose.height  # the pose read from it crouches more
    # Steadier: halfway to what it did, and the stability term counts twice.
    assert _terms(steadier)["hip_sway"].amplitude < before["hip_sway"].amplitude
    assert _terms(steadier)["stability"].weight == 2 * before["stability"].weight
    for variant in (stronger, bolder, steadier):
        RewardSpec.model_validate(variant.reward.model_dump())  # within every bound


def test_with_nothing_missed_the_main_intent_is_pushed_and_bounds_hold():
    spec = RewardSpec(terms=[Term(name="swing", kind="oscillate", feature="pole_angle", amplitude=60.0,
                                  frequency=1.0, tolerance=0.5, weight=8.0)])
    approach = Approach(name="Swing", description="swing it", reward=spec)
    met = [IntentResult(term="swing", kind="oscillate", feature="pole_angle", weight=8.0, status="met",
                        target=60.0, measured=80.0, target_frequency=1.0, measured_frequency=1.0, sentence="")]
    stronger, bolder, steadier = evolve(approach, _summary(met, "swing"), "generic")
    assert _terms(stronger)["swing"].weight == 10.0  # doubled, clipped to the spec's bound
    assert _terms(bolder)["swing"].amplitude == pytest.approx(75.0)  # met: a quarter more
    assert _terms(steadier)["swing"].amplitude == pytest.approx(70.0)


def test_a_favourite_without_a_report_still_evolves():
    variants = evolve(_hula(), None, "go1")
    assert len(variants) == 3 and all(v.reward.terms for v in variants)
