"""Evolve a favourite: three variants of an approach moved toward the intents it missed.

A finished job's behaviour report says, per reward term, what was asked and what the
robot did (`tabrl.behaviour.intents`). Evolving the favourite keeps its terms and
moves their numbers where the report says they fell short, three ways:

* **Stronger**: the missed terms weigh twice as much (the policy was not paid
  enough for them).
* **Bolder**: the missed terms ask past their target by what was missing (a swing
  that reached 60% asks for 1/0.6 of it), so the pose and command the library reads
  off the terms (`with_controls`) swing further too.
* **Steadier**: the missed terms ask for halfway between the target and what was
  measured (an easier goal the policy can meet), and the stability term weighs twice
  as much.

Each is fine-tuned from the favourite's own checkpoint (the API's evolve endpoint),
not from the base: it starts from what the person liked. With nothing missed, the
main intent is the one pushed. Every number stays inside the spec's bounds.
"""

from __future__ import annotations

from tabrl.behaviour.intents import IntentResult, IntentSummary
from tabrl.rewards.features import stability_term_feature
from tabrl.rewards.library import with_controls
from tabrl.rewards.spec import Approach, RewardSpec, Term, clean_label, field_range

BOLDER_MAX = 2.0
"""A missed term asks for at most twice its target swing (or target distance)."""
BOLDER_MET = 1.25
"""A swing that was met (the main intent, when nothing was missed) asks for a quarter more."""


def _missed(intents: IntentSummary | None, spec: RewardSpec) -> list[IntentResult]:
    """The term results to move: those not met (partly counts as missed), else the main one."""
    names = {t.name for t in spec.terms}
    results = [r for r in (intents.results if intents else []) if r.term in names]
    missed = [r for r in results if r.status in ("not met", "partly") and r.measured is not None]
    if missed:
        return missed
    return [r for r in results if intents is not None and r.term == intents.main_term]


def _bounded(term: Term, **changes) -> Term:
    """`term` with `changes` clipped into the spec's field bounds."""
    clipped = {k: round(min(max(v, field_range(Term, k)[0]), field_range(Term, k)[1]), 4) for k, v in changes.items()}
    return term.model_copy(update=clipped)


def _stronger(term: Term, result: IntentResult) -> Term:
    return _bounded(term, weight=term.weight * 2)


def _bolder(term: Term, result: IntentResult) -> Term:
    if term.kind == "oscillate":
        reached = (result.measured or 0.0) / term.amplitude if term.amplitude > 0 else 1.0
        factor = min(BOLDER_MAX, 1.0 / max(reached, 1e-6)) if reached < 1.0 else BOLDER_MET
        return _bounded(term, amplitude=term.amplitude * factor)
    if term.kind in ("track", "penalty") and result.measured is not None:
        reach = BOLDER_MAX * term.tolerance  # past the target by what was missing, within two tolerances
        gap = min(max(term.target - result.measured, -reach), reach)
        return _bounded(term, target=term.target + gap)
    return _bounded(term, weight=term.weight * 1.5)  # maximize, linear: ask harder


def _steadier(term: Term, result: IntentResult) -> Term:
    if term.kind == "oscillate":
        return _bounded(term, amplitude=(term.amplitude + (result.measured or 0.0)) / 2)
    if term.kind in ("track", "penalty") and result.measured is not None:
        return _bounded(term, target=(term.target + result.measured) / 2)
    return term


_WAYS = (
    ("Stronger", "its missed intents weigh twice as much", _stronger),
    ("Bolder", "its missed intents ask past their targets by what was missing", _bolder),
    ("Steadier", "its missed intents ask for halfway to what it did, steadier", _steadier),
)


def evolve(approach: Approach, intents: IntentSummary | None, family: str) -> list[Approach]:
    """Three variants of `approach` moved toward the intents `intents` says it missed
    (see the module's doc), each with its command and pose read again from its terms."""
    spec = approach.reward
    missed = {r.term: r for r in _missed(intents, spec)}
    stability = stability_term_feature(family)
    variants = []
    for prefix, why, move in _WAYS:
        terms = [move(t, missed[t.name]) if t.name in missed else t for t in spec.terms]
        if prefix == "Steadier":
            terms = [_bounded(t, weight=t.weight * 2) if t.feature == stability and t.kind == "linear" and t.weight > 0
                     else t for t in terms]
        moved = spec.model_copy(update={"terms": terms})
        moved = RewardSpec.model_validate(with_controls(moved, family).model_dump())
        names = ", ".join(sorted(missed)) or "nothing"
        variants.append(Approach(
            name=clean_label(f"{prefix} {approach.name}", 60),
            description=clean_label(f"{approach.description} Evolved: {why} ({names}).", 200),
            reward=moved,
        ))
    return variants
