"""A reward spec becomes one pure JAX function of (params, features).

The numbers of a spec live in `params`, a pytree of arrays in a canonical
per-family layout: for each slot kind (track, oscillate, maximize, penalty,
linear) and each feature of the family, one weight, target, tolerance,
frequency, amplitude and phase (shape [kinds, features]; unused slots have
weight 0). Every slot is computed at every step, vectorised over a padded
[features, max size] matrix, so the arithmetic is the same for every spec of a
family. What differs between specs is only which slots are reported under
which term names, and the expression terms; that is the *structure*
(`CompiledReward.structure`). Specs with the same structure get the very same
`fn` object, so a program jitted over `fn` with params as an argument is
compiled once and reused for all of them.

Training goes one step further (`CompiledReward.program`): term names and the
order of terms are moved out of the traced code too. The program computes every
slot and reports up to `MAX_TERMS` terms in canonical positions
(`term_index`/`term_used` arrays in `program_params` say which slot or
expression fills which position), so its key is only the family layout and the
structures of the expression terms. Every slot-only spec of a family, and so
the three approaches of a typical batch, shares one `RewardProgram` and one
compiled training program; the host renames positions to term names.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tabrl.rewards.features import FeatureInfo, catalog_for_env, feature_catalog
from tabrl.rewards.sandbox import PARAMETER_NAMES, Expression, parse_expression
from tabrl.rewards.spec import MAX_TERMS, SCORE_BOUND, SLOT_KINDS, RewardSpec

PARAM_FIELDS = ("weight", "target", "tolerance", "frequency", "amplitude", "phase")
EXPRESSION_BOUND = 10.0
FEATURE_BOUND = 1e4


@dataclass(frozen=True)
class Layout:
    """The canonical order and sizes of a family's features."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def width(self) -> int:
        return max(self.sizes)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @classmethod
    def from_catalog(cls, catalog: Sequence[FeatureInfo]) -> Layout:
        return cls(tuple(f.name for f in catalog), tuple(f.size for f in catalog))


@dataclass(frozen=True)
class RewardProgram:
    """The spec-independent reward computation shared by every spec with the same `key`."""

    key: tuple
    """(layout, expression structures in canonical order): no term names, no numbers."""
    fn: Callable[[dict, dict], tuple[Any, Any]]
    """Pure: (program params, features) -> (reward, term values [MAX_TERMS]); positions
    a spec does not use are 0."""


@dataclass(frozen=True)
class CompiledReward:
    spec: RewardSpec
    layout: Layout
    params: dict
    """Pytree of jnp arrays: {"clock_hz", "slots": {field: [K, F]}, "expressions": {name: {...}}}."""
    fn: Callable[[dict, dict], tuple[Any, dict]]
    """Pure: (params, features) -> (reward, {term name: value}); jit- and vmap-able."""
    term_names: tuple[str, ...]
    structure: tuple
    program: RewardProgram | None = None
    program_params: dict | None = None
    """`params` plus `term_index`/`term_used` [MAX_TERMS], expressions by canonical position."""


def layout_for(target: Any) -> Layout:
    """The layout for a model id, a feature catalog, or a loaded environment."""
    if isinstance(target, Layout):
        return target
    if isinstance(target, str):
        return Layout.from_catalog(feature_catalog(target))
    if isinstance(target, (list, tuple)):
        return Layout.from_catalog(target)
    return Layout.from_catalog(catalog_for_env(target))


def _expression_sizes(layout: Layout) -> dict[str, int]:
    return dict(zip(layout.names, layout.sizes))


def parse_terms(spec: RewardSpec, layout: Layout) -> dict[str, Expression]:
    """The checked formulas of a spec's expression terms (raises SandboxError)."""
    sizes = _expression_sizes(layout)
    return {
        term.name: parse_expression(term.expression, sizes)
        for term in spec.terms
        if term.kind == "expression"
    }


def structure_of(spec: RewardSpec, layout: Layout, expressions: dict[str, Expression]) -> tuple:
    terms = []
    for term in spec.terms:
        if term.kind == "expression":
            terms.append((term.name, "expression", expressions[term.name].structure))
        else:
            terms.append((term.name, term.kind, term.feature))
    return (layout, tuple(terms))


def params_for(spec: RewardSpec, layout: Layout, expressions: dict[str, Expression] | None = None) -> dict:
    """The spec's numbers in the canonical layout (numpy float32; jnp-convertible)."""
    import jax.numpy as jnp

    expressions = expressions if expressions is not None else parse_terms(spec, layout)
    shape = (len(SLOT_KINDS), len(layout.names))
    slots = {field: np.zeros(shape, np.float32) for field in PARAM_FIELDS}
    slots["tolerance"][:] = 1.0
    exprs = {}
    for term in spec.terms:
        values = {field: float(getattr(term, field)) for field in PARAM_FIELDS}
        if term.kind == "expression":
            exprs[term.name] = {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}
            exprs[term.name]["consts"] = jnp.asarray(expressions[term.name].consts, jnp.float32)
        else:
            k, f = SLOT_KINDS.index(term.kind), layout.index(term.feature)
            for field, value in values.items():
                slots[field][k, f] = value
    return {
        "clock_hz": jnp.asarray(spec.clock_hz, jnp.float32),
        "slots": {k: jnp.asarray(v) for k, v in slots.items()},
        "expressions": exprs,
    }


def _feature_mask(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros((len(layout.names), layout.width), np.float32)
    for i, size in enumerate(layout.sizes):
        mask[i, :size] = 1.0
    return mask, mask.sum(axis=1)


def _slot_values(layout: Layout, mask, counts, params: dict, features: dict) -> tuple[dict, Any]:
    """Every slot of the canonical layout at once: (feature values incl. the clock, [K, F] values)."""
    import jax.numpy as jnp

    width = layout.width
    time = jnp.asarray(features["time"], jnp.float32)
    clock = 2 * math.pi * params["clock_hz"] * time
    values = dict(features)
    values["clock_sin"], values["clock_cos"] = jnp.sin(clock), jnp.cos(clock)
    rows = []
    for name, size in zip(layout.names, layout.sizes):
        row = jnp.ravel(jnp.asarray(values[name], jnp.float32))
        rows.append(jnp.pad(row, (0, width - size)) if size < width else row)
    x = jnp.clip(jnp.nan_to_num(jnp.stack(rows)), -FEATURE_BOUND, FEATURE_BOUND)  # [F, W]

    p = {k: v[:, :, None] for k, v in params["slots"].items()}  # each [K, F, 1]
    z = (x[None] - p["target"]) / p["tolerance"]  # [K, F, W]
    freq = jnp.where(p["frequency"] > 0, p["frequency"], params["clock_hz"])
    moving = p["target"] + p["amplitude"] * jnp.sin(2 * math.pi * freq * time + p["phase"])
    z_osc = (x[None] - moving) / p["tolerance"]
    scores = jnp.stack([
        jnp.exp(-jnp.square(z[0])),                       # track
        jnp.exp(-jnp.square(z_osc[1])),                   # oscillate
        jnp.tanh(z[2]),                                   # maximize
        -jnp.minimum(jnp.square(z[3]), SCORE_BOUND),      # penalty
        jnp.clip(z[4], -EXPRESSION_BOUND, EXPRESSION_BOUND),  # linear
    ])  # fmt: skip
    scores = (scores * mask).sum(axis=-1) / counts  # [K, F]
    return values, params["slots"]["weight"] * scores


def _expression_value(expression: Expression, q: dict, values: dict):
    import jax.numpy as jnp

    env = dict(values)
    env.update({key: q[key] for key in PARAMETER_NAMES})
    raw = expression.evaluate(env, q["consts"])
    score = jnp.clip(jnp.nan_to_num(jnp.mean(jnp.asarray(raw, jnp.float32))), -EXPRESSION_BOUND, EXPRESSION_BOUND)
    return q["weight"] * score


def _build_fn(structure: tuple, expressions: tuple[tuple[str, Expression], ...]) -> Callable:
    layout, terms = structure
    slot_terms = [
        (name, SLOT_KINDS.index(kind), layout.index(feature))
        for name, kind, feature in terms
        if kind != "expression"
    ]
    expression_terms = dict(expressions)
    term_order = [name for name, _, _ in terms]
    mask, counts = _feature_mask(layout)

    def fn(params: dict, features: dict) -> tuple[Any, dict]:
        import jax.numpy as jnp

        values, slot_values = _slot_values(layout, mask, counts, params, features)
        total = jnp.sum(slot_values)
        term_values = {name: slot_values[k, f] for name, k, f in slot_terms}
        for name, expression in expression_terms.items():
            term_values[name] = _expression_value(expression, params["expressions"][name], values)
            total = total + term_values[name]
        return total, {name: term_values[name] for name in term_order}

    return fn


# --- the shared training program ---------------------------------------------------


def _canonical_expressions(spec: RewardSpec, expressions: dict[str, Expression]) -> list[str]:
    """Expression term names in canonical order: by formula structure, then spec order."""
    names = [t.name for t in spec.terms if t.kind == "expression"]
    return sorted(names, key=lambda name: (expressions[name].structure, names.index(name)))


def program_key_of(layout: Layout, spec: RewardSpec, expressions: dict[str, Expression]) -> tuple:
    order = _canonical_expressions(spec, expressions)
    return (layout, tuple(expressions[name].structure for name in order))


def _build_program(key: tuple, expressions: tuple[Expression, ...]) -> RewardProgram:
    layout, _ = key
    mask, counts = _feature_mask(layout)

    def fn(params: dict, features: dict) -> tuple[Any, Any]:
        import jax.numpy as jnp

        values, slot_values = _slot_values(layout, mask, counts, params, features)
        total = jnp.sum(slot_values)
        sources = [jnp.ravel(slot_values)]
        for expression, q in zip(expressions, params["expressions"]):
            value = _expression_value(expression, q, values)
            total = total + value
            sources.append(jnp.reshape(value, (1,)))
        sources = jnp.concatenate(sources)
        terms = jnp.where(params["term_used"], jnp.take(sources, params["term_index"]), 0.0)
        return total, terms

    return RewardProgram(key=key, fn=fn)


def program_params_for(spec: RewardSpec, layout: Layout, params: dict, expressions: dict[str, Expression]) -> dict:
    """`params` in the program's layout: term positions as arrays, expressions by canonical position."""
    import jax.numpy as jnp

    order = _canonical_expressions(spec, expressions)
    n_slots = len(SLOT_KINDS) * len(layout.names)
    index = np.zeros(MAX_TERMS, np.int32)
    used = np.zeros(MAX_TERMS, bool)
    for i, term in enumerate(spec.terms):
        if term.kind == "expression":
            index[i] = n_slots + order.index(term.name)
        else:
            index[i] = SLOT_KINDS.index(term.kind) * len(layout.names) + layout.index(term.feature)
        used[i] = True
    return {
        "clock_hz": params["clock_hz"],
        "slots": params["slots"],
        "expressions": tuple(params["expressions"][name] for name in order),
        "term_index": jnp.asarray(index),
        "term_used": jnp.asarray(used),
    }


def term_position_metric(position: int) -> str:
    """The canonical name of a term position in training metrics (renamed on the host)."""
    return f"term_{position:02d}"


def compile_spec(spec: RewardSpec, target: Any) -> CompiledReward:
    """Compile `spec` for a model: `target` is a loaded environment, a model id, a
    feature catalog or a `Layout`. Raises `SandboxError` for a formula that is not
    allowed and `ValueError` for an unknown feature."""
    layout = layout_for(target)
    unknown = sorted({t.feature for t in spec.terms if t.feature and t.feature not in layout.names})
    if unknown:
        raise ValueError(f"unknown feature(s): {', '.join(unknown)}")
    expressions = parse_terms(spec, layout)
    structure = structure_of(spec, layout, expressions)
    # Expressions with the same structure behave the same with their own consts,
    # so the function is keyed by structure and built from the first such spec.
    fn = _cached_fn(structure, expressions)
    params = params_for(spec, layout, expressions)
    program_key = program_key_of(layout, spec, expressions)
    return CompiledReward(
        spec=spec,
        layout=layout,
        params=params,
        fn=fn,
        term_names=tuple(t.name for t in spec.terms),
        structure=structure,
        program=_cached_program(program_key, [expressions[n] for n in _canonical_expressions(spec, expressions)]),
        program_params=program_params_for(spec, layout, params, expressions),
    )


_FN_BY_STRUCTURE: OrderedDict[tuple, Callable] = OrderedDict()
_MAX_CACHED = 256


def _cached_fn(structure: tuple, expressions: dict[str, Expression]) -> Callable:
    fn = _FN_BY_STRUCTURE.pop(structure, None)
    if fn is None:
        fn = _build_fn(structure, tuple(sorted(expressions.items())))
    _FN_BY_STRUCTURE[structure] = fn
    while len(_FN_BY_STRUCTURE) > _MAX_CACHED:
        _FN_BY_STRUCTURE.popitem(last=False)
    return fn


_PROGRAM_BY_KEY: OrderedDict[tuple, RewardProgram] = OrderedDict()


def _cached_program(key: tuple, expressions: list[Expression]) -> RewardProgram:
    program = _PROGRAM_BY_KEY.pop(key, None)
    if program is None:
        program = _build_program(key, tuple(expressions))
    _PROGRAM_BY_KEY[key] = program
    while len(_PROGRAM_BY_KEY) > _MAX_CACHED:
        _PROGRAM_BY_KEY.popitem(last=False)
    return program
