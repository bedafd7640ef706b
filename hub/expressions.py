"""A small, safe expression language for rules and eligibility.

Python syntax, a whitelist of nodes: and / or / not, comparisons (including ``in``),
arithmetic, names, constants, lists and ``name['key']`` look-ups. No calls, no attributes,
no imports. A comparison with a missing value (None) is simply false, as ops people expect
of ``employees >= 200`` on a contact whose size is unknown.

Bounded, so a config that validates cannot crash or exhaust a decide run: at most
``MAX_SOURCE`` characters, ``MAX_NODES`` syntax nodes and ``MAX_DEPTH`` levels of nesting;
a look-up key is a string or number constant or a name; strings and lists are not multiplied,
subtracted or divided; arithmetic that would build a string or list longer than ``MAX_SEQ``
is an error at evaluation. ``holds`` evaluates for one contact and turns any error into
False with a warning naming the expression and the contact, so one bad evaluation never
stops a batch.

>>> Expression("lifecycle_stage == 'lead' and activities_30d['page_view'] >= 3").evaluate(
...     {"lifecycle_stage": "lead", "activities_30d": {"page_view": 4}})
True
"""

from __future__ import annotations

import ast
import logging
import operator
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
MAX_SOURCE, MAX_NODES, MAX_DEPTH, MAX_SEQ = 4000, 1000, 20, 10_000

_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is None or a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
#: comparisons that still hold a meaning when a side is None (the others are then false)
_NONE_COMPARES = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn)
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class ExpressionError(ValueError):
    pass


class Expression:
    def __init__(self, source: str):
        self.source = source
        if len(source) > MAX_SOURCE:
            raise ExpressionError(
                f"expression of {len(source)} characters; the limit is {MAX_SOURCE} (split it into several rules)"
            )
        try:
            tree = ast.parse(source.strip() or "True", mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse expression {source!r}: {exc.msg}") from None
        except (RecursionError, MemoryError, ValueError):
            raise ExpressionError(f"cannot parse expression {source[:80]!r}...: nested too deeply") from None
        self._check(tree.body)
        self._fn = self._compile(tree.body)
        self.names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}

    def _check(self, node: ast.AST) -> None:
        allowed = (
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.Compare,
            ast.Name,
            ast.Load,
            ast.Constant,
            ast.Subscript,
            ast.List,
            ast.Tuple,
            ast.BinOp,
            *_CMP,
            *_BIN,
        )
        short = self.source if len(self.source) <= 80 else self.source[:77] + "..."
        count, stack = 0, [(node, 1)]
        while stack:  # iterative: a deep expression must not recurse here either
            n, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise ExpressionError(f"expression {short!r} has more than {MAX_NODES} parts; split it")
            if depth > MAX_DEPTH:
                raise ExpressionError(f"expression {short!r} nests more than {MAX_DEPTH} levels; split it")
            if not isinstance(n, allowed):
                raise ExpressionError(f"{type(n).__name__} is not allowed in expression {short!r}")
            if isinstance(n, ast.Subscript) and not _plain_key(n.slice):
                raise ExpressionError(f"a look-up key must be a string, a number or a name in {short!r}")
            if isinstance(n, ast.BinOp) and not isinstance(n.op, ast.Add) and (_seq(n.left) or _seq(n.right)):
                raise ExpressionError(f"strings and lists can only be added, not {type(n.op).__name__}, in {short!r}")
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(n))

    def holds(self, env: dict[str, Any], who: object = None) -> bool:
        """``evaluate`` for one contact; an error is logged with the contact and counts as False."""
        try:
            return bool(self._fn(env))  # evaluate(), one call less: every decision checks each rule
        except (ExpressionError, TypeError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
            log.warning("expression %r failed for contact %s (treated as false): %s", self.source[:200], who, exc)
            return False

    def evaluate(self, env: dict[str, Any]) -> bool:
        return bool(self._fn(env))

    def value(self, env: dict[str, Any]) -> Any:
        """The expression's value itself (a number, text, a flag or None): derived features, an outcome's worth."""
        return self._fn(env)

    def _compile(self, node: ast.AST) -> Callable[[dict[str, Any]], Any]:
        """The node as a Python function of the environment, built once: evaluating walks no
        syntax tree (every decision evaluates the rules and each eligibility expression)."""
        source = self.source
        match node:
            case ast.Constant(value=v):
                return lambda env: v
            case ast.Name(id=name) if name in ("True", "False", "None"):
                const = {"True": True, "False": False, "None": None}[name]
                return lambda env: const
            case ast.Name(id=name):

                def look(env: dict[str, Any]) -> Any:
                    try:
                        return env[name]
                    except KeyError:
                        known = ", ".join(sorted(env))
                        raise ExpressionError(f"unknown name {name!r} in {source!r}; known: {known}") from None

                return look
            case ast.BoolOp(op=ast.And(), values=[a, b]):  # the common two operands: no generator per call
                fa, fb = self._compile(a), self._compile(b)
                return lambda env: bool(fa(env)) and bool(fb(env))
            case ast.BoolOp(op=ast.And(), values=vals):
                fs = [self._compile(v) for v in vals]
                return lambda env: all(f(env) for f in fs)
            case ast.BoolOp(op=ast.Or(), values=[a, b]):
                fa, fb = self._compile(a), self._compile(b)
                return lambda env: bool(fa(env)) or bool(fb(env))
            case ast.BoolOp(op=ast.Or(), values=vals):
                fs = [self._compile(v) for v in vals]
                return lambda env: any(f(env) for f in fs)
            case ast.UnaryOp(op=ast.Not(), operand=o):
                f = self._compile(o)
                return lambda env: not f(env)
            case ast.UnaryOp(op=ast.USub(), operand=o):
                f = self._compile(o)

                def neg(env: dict[str, Any]) -> Any:
                    v = f(env)
                    return None if v is None else -v

                return neg
            case ast.BinOp(left=left, op=op, right=right):
                fa, fb, fn = self._compile(left), self._compile(right), _BIN[type(op)]

                def binop(env: dict[str, Any]) -> Any:
                    a, b = fa(env), fb(env)
                    if a is None or b is None:
                        return None
                    _bound(a, b, op, source)
                    try:
                        return fn(a, b)
                    except (TypeError, ZeroDivisionError, OverflowError):
                        return None

                return binop
            case ast.Compare(left=left, ops=ops, comparators=comps):
                fl = self._compile(left)
                steps = [
                    (_CMP[type(op)], self._compile(comp), isinstance(op, _NONE_COMPARES))
                    for op, comp in zip(ops, comps, strict=True)
                ]

                def compare(env: dict[str, Any]) -> bool:
                    a = fl(env)
                    for cmp, fc, none_ok in steps:
                        b = fc(env)
                        if (a is None or b is None) and not none_ok:
                            return False
                        try:
                            if not cmp(a, b):
                                return False
                        except TypeError:
                            return False
                        a = b
                    return True

                return compare
            case ast.Subscript(value=v, slice=ast.Constant(value=key)) if isinstance(key, (str, int, float, bool)):
                fv = self._compile(v)

                def lookup(env: dict[str, Any]) -> Any:  # a constant key: its type checked once, here
                    container = fv(env)
                    return container.get(key) if isinstance(container, dict) else None

                return lookup
            case ast.Subscript(value=v, slice=sl):
                fv, fk = self._compile(v), self._compile(sl)

                def subscript(env: dict[str, Any]) -> Any:
                    container, key = fv(env), fk(env)
                    if isinstance(container, dict) and isinstance(key, (str, int, float, bool)):
                        return container.get(key)
                    return None

                return subscript
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                fs = [self._compile(e) for e in elts]
                return lambda env: [f(env) for f in fs]

        def unknown(env: dict[str, Any]) -> Any:
            raise ExpressionError(f"cannot evaluate {ast.dump(node)}")  # unreachable after _check

        return unknown


def _plain_key(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)) and node.value is not None
    )


def _seq(node: ast.AST) -> bool:
    """A string or list literal (what multiplying or dividing would blow up or break)."""
    return isinstance(node, (ast.List, ast.Tuple)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )


def _bound(a: Any, b: Any, op: ast.operator, source: str) -> None:
    """Refuse arithmetic that would build a string or list longer than MAX_SEQ."""
    size = None
    if isinstance(op, ast.Mult):
        for seq, n in ((a, b), (b, a)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
                size = len(seq) * max(n, 0)
    elif isinstance(op, ast.Add) and isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)):
        size = len(a) + len(b)
    if size is not None and size > MAX_SEQ:
        raise ExpressionError(f"{source[:80]!r} would build a value of {size:,} items; the limit is {MAX_SEQ:,}")
