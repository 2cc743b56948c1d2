"""A proposal as text a person can read in a terminal."""

from __future__ import annotations

from tabrl.rewards.spec import Proposal, Term


def describe_term(term: Term) -> str:
    """One line, e.g. `hip_sway  oscillate hip_angles around 0 ± 0.3 at 1.5 Hz (tol 0.2)  w 2`."""
    if term.kind == "expression":
        what = f"expression {term.expression}"
    elif term.kind == "oscillate":
        rhythm = f"{term.frequency:g} Hz" if term.frequency else "clock"
        what = f"oscillate {term.feature} around {term.target:g} ± {term.amplitude:g} at {rhythm} (tol {term.tolerance:g})"
    elif term.kind == "track":
        what = f"track {term.feature} at {term.target:g} (tol {term.tolerance:g})"
    elif term.kind == "maximize":
        what = f"{'maximize' if term.weight >= 0 else 'minimize'} {term.feature} (from {term.target:g}, scale {term.tolerance:g})"
    elif term.kind == "penalty":
        what = f"penalize {term.feature} away from {term.target:g} (tol {term.tolerance:g})"
    else:
        what = f"linear in {term.feature}" + (f" (scale {term.tolerance:g})" if term.tolerance != 1 else "")
    return f"{term.name:<16} {what}  w {term.weight:g}"


def format_proposal(proposal: Proposal) -> str:
    lines = [f'{proposal.model}: "{proposal.prompt}"  (source: {proposal.source})', ""]
    for number, approach in enumerate(proposal.approaches, start=1):
        lines.append(f"{number}. {approach.name}: {approach.description}")
        for term in approach.reward.terms:
            lines.append(f"     {describe_term(term)}")
        lines.append("")
    for warning in proposal.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines).rstrip()
