"""A small, safe expression language for rules and eligibility.

Python syntax, a whitelist of nodes: and / or / not, comparisons (including ``in``),
arithmetic, names, constants, lists and ``name['key']`` look-ups. No calls, no attributes,
no imports. A comparison with a missing value (None) is simply false, as ops people expect
of ``employees >= 200`` on a contact whose size is unknown.

>>> Expression("lifecycle_stage == 'lead' and activities_30d['page_view'] >= 3").evaluate(
...     {"lifecycle_stage": "lead", "activities_30d": {"page_view": 4}})
True
"""

from __future__ import annotations

import ast
import operator
from typing import Any

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
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class ExpressionError(ValueError):
    pass


class Expression:
    def __init__(self, source: str):
        self.source = source
        try:
            tree = ast.parse(source.strip() or "True", mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse expression {source!r}: {exc.msg}") from None
        self._check(tree.body)
        self._tree = tree.body
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
        for n in ast.walk(node):
            if not isinstance(n, allowed):
                raise ExpressionError(f"{type(n).__name__} is not allowed in expression {self.source!r}")

    def evaluate(self, env: dict[str, Any]) -> bool:
        return bool(self._eval(self._tree, env))

    def value(self, env: dict[str, Any]) -> Any:
        """The expression's value itself (a number, text, a flag or None): derived features, an outcome's worth."""
        return self._eval(self._tree, env)

    def _eval(self, node: ast.AST, env: dict[str, Any]) -> Any:
        match node:
            case ast.Constant(value=v):
                return v
            case ast.Name(id=name):
                if name in ("True", "False", "None"):
                    return {"True": True, "False": False, "None": None}[name]
                if name not in env:
                    raise ExpressionError(f"unknown name {name!r} in {self.source!r}; known: {', '.join(sorted(env))}")
                return env[name]
            case ast.BoolOp(op=ast.And(), values=vals):
                return all(self._eval(v, env) for v in vals)
            case ast.BoolOp(op=ast.Or(), values=vals):
                return any(self._eval(v, env) for v in vals)
            case ast.UnaryOp(op=ast.Not(), operand=o):
                return not self._eval(o, env)
            case ast.UnaryOp(op=ast.USub(), operand=o):
                v = self._eval(o, env)
                return None if v is None else -v
            case ast.BinOp(left=left, op=op, right=right):
                a, b = self._eval(left, env), self._eval(right, env)
                if a is None or b is None:
                    return None
                try:
                    return _BIN[type(op)](a, b)
                except (TypeError, ZeroDivisionError):
                    return None
            case ast.Compare(left=left, ops=ops, comparators=comps):
                a = self._eval(left, env)
                for op, comp in zip(ops, comps, strict=True):
                    b = self._eval(comp, env)
                    if (a is None or b is None) and not isinstance(
                        op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn)
                    ):
                        return False
                    try:
                        if not _CMP[type(op)](a, b):
                            return False
                    except TypeError:
                        return False
                    a = b
                return True
            case ast.Subscript(value=v, slice=s):
                container, key = self._eval(v, env), self._eval(s, env)
                if isinstance(container, dict):
                    return container.get(key)
                return None
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return [self._eval(e, env) for e in elts]
        raise ExpressionError(f"cannot evaluate {ast.dump(node)}")  # unreachable after _check
