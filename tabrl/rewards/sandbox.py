"""Free-form reward formulas, safely: an AST whitelist and an interpreter.

A formula such as ``exp(-square(base_height - target) / tolerance) * clock_sin``
is parsed with `ast.parse(mode="eval")` (parsing runs nothing) and every node
is checked against a whitelist: arithmetic, comparisons, `x if c else y`,
feature and parameter names, constant subscripts of group features, and calls
to the math functions in `FUNCTIONS` (bare, or as ``jnp.<name>``). Everything
else (imports, attributes, dunder names, lambdas, comprehensions, strings,
keyword arguments, statements) is rejected, and so are long or deep formulas,
huge constants and exponents other than 0.5, 2, 3 and 4.

The checked tree is then *interpreted*: `Expression.evaluate` walks it and
emits `jax.numpy` operations. Nothing here calls `eval`, `exec`, `compile` or
`getattr` on the text. Division is guarded against zero, `exp` clips its
input, `sqrt` takes the absolute value, and the compiled reward clips each
formula's score to [-10, 10]; validation also evaluates it on sample states.

Decision: the numeric literals of a formula are array inputs (`Expression.consts`,
in source order), so formulas that differ only in their numbers share a
compiled program; exponents are part of the structure.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Mapping

MAX_CHARS = 300
MAX_NODES = 120
MAX_DEPTH = 20
MAX_CONSTANT = 1e4
ALLOWED_EXPONENTS = (0.5, 2, 3, 4)
PARAMETER_NAMES = ("target", "tolerance", "frequency", "amplitude", "phase")
CONSTANT_NAMES = ("pi",)


class SandboxError(ValueError):
    """The formula is not allowed; the message says why."""


def _functions() -> dict[str, tuple[int, Callable]]:
    import jax.numpy as jnp

    return {
        "abs": (1, jnp.abs),
        "sin": (1, jnp.sin),
        "cos": (1, jnp.cos),
        "tanh": (1, jnp.tanh),
        "exp": (1, lambda x: jnp.exp(jnp.clip(x, -50.0, 10.0))),
        "sqrt": (1, lambda x: jnp.sqrt(jnp.abs(x))),
        "square": (1, jnp.square),
        "sign": (1, jnp.sign),
        "sum": (1, jnp.sum),
        "mean": (1, jnp.mean),
        "max": (1, jnp.max),
        "min": (1, jnp.min),
        "minimum": (2, jnp.minimum),
        "maximum": (2, jnp.maximum),
        "clip": (3, jnp.clip),
        "where": (3, jnp.where),
    }


FUNCTION_NAMES = (
    "abs", "sin", "cos", "tanh", "exp", "sqrt", "square", "sign", "sum", "mean", "max", "min",
    "minimum", "maximum", "clip", "where",
)  # fmt: skip
_ARITY = {
    **{name: 1 for name in FUNCTION_NAMES[:12]},
    "minimum": 2, "maximum": 2, "clip": 3, "where": 3,
}  # fmt: skip

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARYOPS = (ast.UAdd, ast.USub, ast.Not)
_COMPAREOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, or of a negated one."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _check_size(tree: ast.AST) -> None:
    """Node count and depth, measured without recursion."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise SandboxError(f"formula too large: more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise SandboxError(f"formula nested too deeply: more than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Checker:
    def __init__(self, sizes: Mapping[str, int]):
        self.sizes = sizes
        self.consts: list[float] = []

    def check(self, node: ast.AST) -> None:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise SandboxError(f"{type(node).__name__} is not allowed in a reward formula")
        method(node)

    def _Expression(self, node: ast.Expression) -> None:
        self.check(node.body)

    def _Constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) not in (int, float):
            raise SandboxError(f"only numbers are allowed as constants, not {type(value).__name__}")
        if not abs(value) <= MAX_CONSTANT:  # also catches nan and inf
            raise SandboxError(f"constant {value!r} is outside [-{MAX_CONSTANT:g}, {MAX_CONSTANT:g}]")
        self.consts.append(float(value))

    def _Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_"):
            raise SandboxError(f"name {name!r} is not allowed (no underscore or dunder names)")
        if name in self.sizes or name in PARAMETER_NAMES or name in CONSTANT_NAMES:
            return
        if name in FUNCTION_NAMES or name == "jnp":
            raise SandboxError(f"{name!r} can only be called, e.g. {name}(x)")
        raise SandboxError(f"unknown name {name!r}: use a feature or {', '.join(PARAMETER_NAMES)}")

    def _Attribute(self, node: ast.Attribute) -> None:
        raise SandboxError(
            f"attribute access ({ast.unparse(node)[:40]}) is not allowed, except calling jnp.<function>"
        )

    def _BinOp(self, node: ast.BinOp) -> None:
        if not isinstance(node.op, _BINOPS):
            raise SandboxError(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node.op, ast.Pow):
            exponent = _number(node.right)
            if exponent not in ALLOWED_EXPONENTS:
                raise SandboxError(f"exponent must be one of {ALLOWED_EXPONENTS}, not {ast.unparse(node.right)[:20]}")
            self.check(node.left)
            return
        self.check(node.left)
        self.check(node.right)

    def _UnaryOp(self, node: ast.UnaryOp) -> None:
        if not isinstance(node.op, _UNARYOPS):
            raise SandboxError(f"operator {type(node.op).__name__} is not allowed")
        self.check(node.operand)

    def _BoolOp(self, node: ast.BoolOp) -> None:
        for value in node.values:
            self.check(value)

    def _Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            if not isinstance(op, _COMPAREOPS):
                raise SandboxError(f"comparison {type(op).__name__} is not allowed")
        self.check(node.left)
        for comparator in node.comparators:
            self.check(comparator)

    def _IfExp(self, node: ast.IfExp) -> None:
        self.check(node.test)
        self.check(node.body)
        self.check(node.orelse)

    def _Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.value, ast.Name) or node.value.id not in self.sizes:
            raise SandboxError(f"indexing {ast.unparse(node.value)[:40]!r} is not allowed; only group features, as feature[i]")
        index = _number(node.slice)
        size = self.sizes[node.value.id]
        if index is None or index != int(index):
            raise SandboxError("this index is not allowed: use a whole number, as feature[i]")
        if size <= 1 or not -size <= index < size:
            raise SandboxError(f"{node.value.id} has {size} element(s); index {int(index)} is out of range")

    def _Call(self, node: ast.Call) -> None:
        name = _function_name(node.func)
        if node.keywords:
            raise SandboxError(f"{name}(): keyword arguments are not allowed")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise SandboxError(f"{name}(): starred arguments are not allowed")
        if len(node.args) != _ARITY[name]:
            raise SandboxError(f"{name}() takes {_ARITY[name]} argument(s), got {len(node.args)}")
        for arg in node.args:
            self.check(arg)


def _function_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name) and func.id in FUNCTION_NAMES:
        return func.id
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "jnp"
        and func.attr in FUNCTION_NAMES
    ):
        return func.attr
    shown = ast.unparse(func)[:40] if isinstance(func, ast.AST) else "?"
    raise SandboxError(f"calling {shown!r} is not allowed; allowed: {', '.join(FUNCTION_NAMES)}")


class _Structure(ast.NodeTransformer):
    """The tree with every literal replaced by its slot, for telling structures apart."""

    def __init__(self):
        self.index = 0

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if isinstance(node.op, ast.Pow):  # the exponent is structure
            node.left = self.visit(node.left)
            return node
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        return node  # indices are structure

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        self.index += 1
        return ast.Name(id=f"c{self.index - 1}", ctx=ast.Load())


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.Expression
    consts: tuple[float, ...]
    structure: str
    names: frozenset[str]

    def evaluate(self, env: Mapping[str, Any], consts: Any) -> Any:
        """Emit jnp operations for the formula; `env` maps names to arrays and
        `consts` holds the literals in source order."""
        return _Interpreter(env, consts).run(self.tree.body)


def parse_expression(source: str, sizes: Mapping[str, int]) -> Expression:
    """Check a formula against the whitelist; `sizes` maps each usable feature to its size."""
    if not isinstance(source, str):
        raise SandboxError("a formula must be text")
    if len(source) > MAX_CHARS:
        raise SandboxError(f"formula too long: {len(source)} characters, the limit is {MAX_CHARS}")
    if not source.strip():
        raise SandboxError("the formula is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise SandboxError(f"not a formula: {type(error).__name__}") from None
    _check_size(tree)
    checker = _Checker(sizes)
    checker.check(tree)
    structure = ast.dump(_Structure().visit(ast.parse(source.strip(), mode="eval")))
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in sizes)
    return Expression(source.strip(), tree, tuple(checker.consts), structure, names)


class _Interpreter:
    def __init__(self, env: Mapping[str, Any], consts: Any):
        import jax.numpy as jnp

        self.jnp = jnp
        self.env = env
        self.consts = consts
        self.next_const = 0
        self.functions = _functions()

    def run(self, node: ast.AST) -> Any:
        jnp = self.jnp
        if isinstance(node, ast.Constant):
            value = self.consts[self.next_const]
            self.next_const += 1
            return value
        if isinstance(node, ast.Name):
            if node.id == "pi":
                return jnp.pi
            return self.env[node.id]
        if isinstance(node, ast.Subscript):
            return self.env[node.value.id][int(_number(node.slice))]
        if isinstance(node, ast.BinOp):
            left = self.run(node.left)
            if isinstance(node.op, ast.Pow):
                exponent = _number(node.right)
                if exponent == 0.5:
                    return jnp.sqrt(jnp.abs(left))
                return left ** int(exponent)
            right = self.run(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            safe = jnp.where(jnp.abs(right) < 1e-6, jnp.where(right < 0, -1e-6, 1e-6), right)
            return left / safe
        if isinstance(node, ast.UnaryOp):
            operand = self.run(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.Not):
                return jnp.logical_not(operand)
            return operand
        if isinstance(node, ast.BoolOp):
            values = [self.run(v) for v in node.values]
            combine = jnp.logical_and if isinstance(node.op, ast.And) else jnp.logical_or
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ast.Compare):
            left, result = self.run(node.left), None
            for op, comparator in zip(node.ops, node.comparators):
                right = self.run(comparator)
                part = {
                    ast.Lt: jnp.less, ast.LtE: jnp.less_equal, ast.Gt: jnp.greater,
                    ast.GtE: jnp.greater_equal, ast.Eq: jnp.equal, ast.NotEq: jnp.not_equal,
                }[type(op)](left, right)  # fmt: skip
                result = part if result is None else jnp.logical_and(result, part)
                left = right
            return result
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.run(node.test), self.run(node.body), self.run(node.orelse)
            return jnp.where(test, body, orelse)
        if isinstance(node, ast.Call):
            _, function = self.functions[_function_name(node.func)]
            return function(*[self.run(arg) for arg in node.args])
        raise SandboxError(f"{type(node).__name__} is not allowed")  # unreachable after checking
