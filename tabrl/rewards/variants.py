"""Regenerate: variant N of a prompt's offline proposal.

Variant 0 is the library's own reading of the prompt (what `propose_offline`
has always returned). Variant N >= 1 is three *other* approaches, the same for
the same model, prompt and N:

1. first the library approaches the prompt matched that variant 0 left out
   ("Do the robot dance" also matches the dance behaviour), as written;
2. then *remixes* of the prompt's approaches: the same idea played in another
   style (double tempo, slow motion, bigger or subtler moves, all-out, careful,
   precise, lively), which changes frequencies, amplitudes, tolerances and
   weights and may add a term (smooth actions, joint speed). Consecutive
   variants give an approach different styles, and every weight is nudged by a
   generator seeded with (model, prompt, N), so no two variants repeat.

Every remix passes `tabrl.rewards.validate.spec_problems` like any other
approach; one that does not is skipped for the next style.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tabrl.rewards.features import FeatureInfo, stability_term_feature
from tabrl.rewards.library import linear, maximize, with_controls
from tabrl.rewards.spec import MAX_TERMS, Approach, RewardSpec, Term, clean_label, spec_fingerprint

MAX_VARIANT = 999
"""Variants run from 0 (the library's own reading) to this."""


class VariantError(ValueError):
    """The variant is not a whole number from 0 to MAX_VARIANT."""


def check_variant(variant: object) -> int:
    if isinstance(variant, bool) or not isinstance(variant, int) or not 0 <= variant <= MAX_VARIANT:
        raise VariantError(f"variant must be a whole number from 0 to {MAX_VARIANT}, got {variant!r}")
    return variant


# --- one remix style ------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    family: str
    features: dict[str, FeatureInfo]

    @property
    def stability_feature(self) -> str:
        return stability_term_feature(self.family)

    def is_stability(self, term: Term) -> bool:
        return term.kind == "linear" and term.feature == self.stability_feature


@dataclass(frozen=True)
class Style:
    prefix: str
    blurb: str
    remix: Callable[[RewardSpec, Context], RewardSpec | None]
    """the spec played in this style; None when the style does not fit the spec"""


def _changed(term: Term, **changes) -> Term:
    return Term.model_validate({**term.model_dump(), **changes})


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _amplitude(term: Term, factor: float, ctx: Context) -> float:
    """The amplitude times `factor`, kept inside the feature's range around the target."""
    info = ctx.features.get(term.feature)
    scaled = term.amplitude * factor
    if info is None:
        return round(scaled, 3)
    room = max(term.amplitude, min(info.high - term.target, term.target - info.low))
    return round(_clamp(scaled, 0.0, min(room, info.high - info.low)), 3)


def _spec(spec: RewardSpec, terms: Iterable[Term], clock_hz: float | None = None) -> RewardSpec:
    return RewardSpec(clock_hz=spec.clock_hz if clock_hz is None else clock_hz, terms=list(terms),
                      command=spec.command)


def _has(spec: RewardSpec, kind: str) -> bool:
    return any(t.kind == kind for t in spec.terms)


def _tempo(factor: float):
    def remix(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
        if not _has(spec, "oscillate"):
            return None
        terms = [
            _changed(t, frequency=round(_clamp(t.frequency * factor, 0.1, 5.0), 3))
            if t.kind == "oscillate" and t.frequency > 0 else t
            for t in spec.terms
        ]
        return _spec(spec, terms, round(_clamp(spec.clock_hz * factor, 0.1, 5.0), 3))
    return remix


def _size(factor: float, stability: float):
    def remix(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
        if not _has(spec, "oscillate"):
            return None
        terms = []
        for t in spec.terms:
            if t.kind == "oscillate":
                t = _changed(t, amplitude=_amplitude(t, factor, ctx),
                             tolerance=round(_clamp(t.tolerance * (1 + (factor - 1) / 2), 1e-3, 100.0), 4))
            elif ctx.is_stability(t):
                t = _changed(t, weight=t.weight * stability)
            terms.append(t)
        return _spec(spec, terms)
    return remix


def _all_out(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
    terms = []
    for t in spec.terms:
        if ctx.is_stability(t):
            t = _changed(t, weight=t.weight * 0.5)
        elif t.weight > 0 and t.kind != "penalty":
            t = _changed(t, weight=_clamp(t.weight * 1.5, -10.0, 10.0))
        else:  # penalties and costs: halved
            t = _changed(t, weight=t.weight * 0.5)
        terms.append(t)
    return _spec(spec, terms)


def _careful(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
    terms = [_changed(t, weight=t.weight * 2.5) if ctx.is_stability(t) else t for t in spec.terms]
    smooth_weight = -0.02 if ctx.family == "go1" else -0.05
    if "action_rate" in ctx.features and not any(t.feature == "action_rate" for t in terms) \
            and not any(t.name == "smooth_actions" for t in terms) and len(terms) < MAX_TERMS:
        terms.append(linear("smooth_actions", "action_rate", smooth_weight))
    return _spec(spec, terms)


def _precise(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
    if not any(t.kind in ("track", "oscillate") for t in spec.terms):
        return None
    terms = [
        _changed(t, tolerance=round(_clamp(t.tolerance * 0.7, 1e-3, 100.0), 4),
                 weight=_clamp(t.weight * 1.2, -10.0, 10.0))
        if t.kind in ("track", "oscillate") else t
        for t in spec.terms
    ]
    return _spec(spec, terms)


def _lively(spec: RewardSpec, ctx: Context) -> RewardSpec | None:
    if "joint_speed" not in ctx.features or len(spec.terms) >= MAX_TERMS:
        return None
    if any(t.feature == "joint_speed" or t.name == "lively" for t in spec.terms):
        return None
    extra = maximize("lively", "joint_speed", 0.3, target=1.0, tolerance=2.0)
    return _spec(spec, [*spec.terms, extra])


STYLES: tuple[Style, ...] = (
    Style("Double-Time", "Now at double tempo.", _tempo(1.6)),
    Style("Extra-Big", "Every move bigger and bolder.", _size(1.4, 1.0)),
    Style("Careful", "Smoother, steadier, safer.", _careful),
    Style("Slow-Motion", "Played in slow motion.", _tempo(0.6)),
    Style("All-Out", "Goes all out, caution halved.", _all_out),
    Style("Precise", "Tighter targets, crisper moves.", _precise),
    Style("Subtle", "Smaller moves, twice the balance.", _size(0.6, 2.0)),
    Style("Lively", "With restless, lively legs.", _lively),
)


def _nudged(spec: RewardSpec, ctx: Context, rng: random.Random) -> RewardSpec:
    """Every weight times a factor in [0.85, 1.15], rounded; the stability term stays in (0, 1]."""
    terms = []
    for t in spec.terms:
        weight = t.weight * rng.uniform(0.85, 1.15)
        if ctx.is_stability(t) and t.weight > 0:
            weight = _clamp(weight, 0.05, 1.0)
        weight = round(_clamp(weight, -10.0, 10.0), 3)
        if weight == 0:
            weight = 0.001 if t.weight > 0 else -0.001
        terms.append(_changed(t, weight=weight))
    return _spec(spec, terms)


def remix(approach: Approach, style: Style, ctx: Context, rng: random.Random) -> Approach | None:
    """`approach` in `style`, weights nudged by `rng`; None when the style does not fit it."""
    try:
        spec = style.remix(approach.reward, ctx)
        if spec is None:
            return None
        spec = with_controls(_nudged(spec, ctx, rng), ctx.family)
    except ValueError:  # a number left its bounds: this style does not fit
        return None
    name = clean_label(f"{style.prefix} {approach.name}", 60)
    description = clean_label(f"{approach.description} {style.blurb}", 200)
    return Approach(name=name, description=description, reward=spec)


# --- choosing a variant's three ----------------------------------------------------------------


def _shape(approach: Approach) -> frozenset:
    return frozenset((t.kind, t.feature) for t in approach.reward.terms)


def _fits(candidate: Approach, chosen: list[Approach], *, strict: bool) -> bool:
    """A new name and a new spec; strict: more than new numbers too."""
    return all(
        candidate.name.lower() != a.name.lower()
        and spec_fingerprint(candidate.reward) != spec_fingerprint(a.reward)
        and (not strict or _shape(candidate) != _shape(a))
        for a in chosen
    )


def variant_approaches(
    first: list[Approach],
    matched: list[Approach],
    *,
    model_id: str,
    prompt: str,
    variant: int,
    family: str,
    catalog: list[FeatureInfo],
    is_valid: Callable[[Approach], bool],
) -> list[Approach]:
    """Variant `variant` (>= 1) of a proposal whose variant 0 is `first`.

    `matched` is every library approach the prompt called up, best first.
    """
    check_variant(variant)
    shown = {spec_fingerprint(a.reward) for a in first} | {a.name.lower() for a in first}
    unused: list[Approach] = []
    for approach in matched:
        if not {spec_fingerprint(approach.reward), approach.name.lower()} & shown:
            shown |= {spec_fingerprint(approach.reward), approach.name.lower()}
            unused.append(approach)
    bases = unused + list(first)  # what remixes start from
    ctx = Context(family=family, features={f.name: f for f in catalog})
    rng = random.Random(f"tabrl-variant\n{model_id}\n{prompt}\n{variant}")
    chosen: list[Approach] = []
    used: set[str] = set()  # the library approaches this variant already plays
    position = 3 * (variant - 1)  # this variant's place in the endless list: unused, then remixes
    # Best: three different library approaches with different term sets; small libraries
    # (a cartpole's) may need the same term set twice, or one approach in two styles.
    for strict, repeat in ((True, False), (False, False), (False, True)):
        for step in range(len(unused) + len(bases) * len(STYLES)):  # every (base, style) pair
            if len(chosen) == 3:
                return chosen
            k = position + step
            if k < len(unused):
                base, candidates = unused[k], [unused[k]]
            else:
                base = bases[(k - len(unused)) % len(bases)]
                start = k % len(STYLES)
                styles = STYLES[start:] + STYLES[:start]
                candidates = [c for c in (remix(base, style, ctx, rng) for style in styles) if c is not None]
            if base.name in used and not repeat:
                continue
            for candidate in candidates:
                if _fits(candidate, chosen, strict=strict) and is_valid(candidate):
                    chosen.append(candidate)
                    used.add(base.name)
                    break
    return chosen
