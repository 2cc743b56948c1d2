"""Regenerate: `propose(..., variant=N)` gives other approaches for the same prompt.

Variant 0 is exactly the offline library's usual answer (the committed demo was
made from it); every other variant is three different, valid approaches, the
same ones every time for the same N."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from tabrl.rewards import MAX_VARIANT, VariantError, propose
from tabrl.rewards.library import go1_behaviours
from tabrl.rewards.spec import spec_fingerprint
from tabrl.rewards.validate import spec_problems

GO1 = "Go1JoystickFlatTerrain"
CARTPOLE = "CartpoleBalance"
HULA = "Keep shaking your hips aloha dude!"
CASES = [(GO1, HULA), (GO1, "Do the robot dance from the 80s"), (GO1, "qwertyuiop asdf"),
         (CARTPOLE, "Breakdance with style"), (CARTPOLE, "zzz")]


def names(proposal) -> list[str]:
    return [a.name for a in proposal.approaches]


def test_variant_0_is_the_usual_answer():
    assert propose(GO1, HULA, 0).model_dump() == propose(GO1, HULA).model_dump()
    assert names(propose(GO1, HULA, 0)) == ["Hula Hip Sway", "Aloha Party Shake", "Gentle Island Sway"]
    demos = [json.loads(p.read_text()) for p in sorted((REPO / "demos").glob("*/job.json"))]
    assert demos
    for demo in demos:  # every committed demo shows the usual (variant 0) approaches' names and terms
        usual = propose(demo["model_id"], demo["prompt"], 0)
        assert [t["name"] for t in demo["trials"]] == names(usual)
        # (each demo records its own clock and command: the spec it was trained with)
        assert [t["reward"]["terms"] for t in demo["trials"]] == [
            a.reward.model_dump(mode="json")["terms"] for a in usual.approaches]


@pytest.mark.parametrize("model_id, prompt", CASES)
def test_variants_1_and_2_are_new_valid_and_repeatable(model_id, prompt):
    usual = propose(model_id, prompt, 0)
    seen = {spec_fingerprint(a.reward) for a in usual.approaches}
    by_variant = {}
    for variant in (1, 2):
        proposal = propose(model_id, prompt, variant)
        assert proposal.source == "offline" and proposal.warnings == usual.warnings
        assert len(proposal.approaches) == 3 and len(set(names(proposal))) == 3
        assert not set(names(proposal)) & set(names(usual)), names(proposal)  # new names
        assert not {spec_fingerprint(a.reward) for a in proposal.approaches} & seen  # new rewards
        for approach in proposal.approaches:
            assert spec_problems(approach.reward, model_id) == [], approach.name
            assert approach.description.strip() and len(approach.description) <= 200
        assert propose(model_id, prompt, variant).model_dump() == proposal.model_dump()  # deterministic
        by_variant[variant] = proposal
    assert by_variant[1].model_dump() != by_variant[2].model_dump()
    assert names(by_variant[1]) != names(by_variant[2])


@pytest.mark.parametrize("variant", [3, 7, 42, MAX_VARIANT])
def test_far_variants_are_valid_and_keep_go1_on_its_feet(variant):
    for model_id, prompt in CASES:
        proposal = propose(model_id, prompt, variant)
        assert len({spec_fingerprint(a.reward) for a in proposal.approaches}) == 3
        for approach in proposal.approaches:
            assert spec_problems(approach.reward, model_id) == [], approach.name
            if model_id == GO1:
                stability = [t for t in approach.reward.terms if t.feature == "env_stability"]
                assert len(stability) == 1 and 0 < stability[0].weight <= 1, approach.name


def test_a_prompt_that_matches_two_behaviours_offers_the_second_one_next():
    proposal = propose(GO1, "Do the robot dance from the 80s", 1)
    dance = next(b for b in go1_behaviours() if b.key == "dance")
    assert names(proposal) == [a.name for a in dance.approaches]


def test_remixes_change_the_numbers_or_the_terms():
    usual = {a.name: a for a in propose(GO1, HULA, 0).approaches}
    for approach in propose(GO1, HULA, 1).approaches:
        base = next(name for name in usual if approach.name.endswith(name))
        before = {t.name: t for t in usual[base].reward.terms}
        after = {t.name: t for t in approach.reward.terms}
        changed = set(before) != set(after) or any(
            before[n].model_dump() != after[n].model_dump() for n in before)
        assert changed, approach.name


@pytest.mark.parametrize("variant", [-1, MAX_VARIANT + 1, True, 1.5, "1", None])
def test_variants_out_of_bounds_are_refused(variant):
    with pytest.raises(VariantError, match="variant must be a whole number"):
        propose(GO1, HULA, variant)
    assert issubclass(VariantError, ValueError)
