"""The SOQL subset the connectors need: parse once, then filter, sort and limit records.

SELECT fields (relationship paths such as Account.Industry, COUNT()) FROM one object,
WHERE with AND/OR/NOT and parentheses (required wherever two of them meet), = != <> > >= < <= LIKE IN NOT IN, ORDER BY, LIMIT, OFFSET.
Values: 'strings', numbers, true/false/null, datetimes (2026-01-05T00:00:00Z or +0000), dates.
``Query.terms`` lets the server refuse a literal whose type does not fit its field
(``literal_problem``), as Salesforce does, rather than match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox.clock import parse_datetime_ms


class SoqlError(ValueError):
    """A query the sandbox (or Salesforce) would refuse: MALFORMED_QUERY."""


MIXED = "unexpected token: '{}' (AND and OR must not be mixed without parentheses)"
MIXED_NOT = "unexpected token: '{}' (NOT must be in parentheses where it meets AND or OR)"


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<str>'(?:[^'\\]|\\.)*')
     |(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
     |(?P<date>\d{4}-\d{2}-\d{2})
     |(?P<num>-?\d+(?:\.\d+)?)
     |(?P<op><=|>=|!=|<>|=|<|>)
     |(?P<punct>[(),])
     |(?P<word>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    )""",
    re.X,
)

KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "LIMIT",
    "OFFSET",
    "NULLS",
    "FIRST",
    "LAST",
    "TRUE",
    "FALSE",
    "NULL",
}


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Callable[[Callable[[str], Any]], bool] | None = None
    where_fields: list[str] = field(default_factory=list)
    terms: list[tuple[str, Any]] = field(default_factory=list)  # (field, literal) for type checks
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # field, desc, nulls_last
    limit: int | None = None
    offset: int = 0
    count_only: bool = False


def _tokens(q: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    q = q.rstrip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise SoqlError(f"unexpected token at: {q[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            out.append(("val", re.sub(r"\\(.)", r"\1", text[1:-1])))
        elif kind == "dt":
            out.append(("val", ("dt", parse_datetime_ms(text))))
        elif kind == "date":
            out.append(("val", ("date", text)))
        elif kind == "num":
            out.append(("val", float(text) if "." in text else int(text)))
        elif kind == "word" and text.upper() in KEYWORDS:
            up = text.upper()
            if up in ("TRUE", "FALSE", "NULL"):
                out.append(("val", {"TRUE": True, "FALSE": False, "NULL": None}[up]))
            else:
                out.append(("kw", up))
        else:
            out.append((kind or "", text))
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, Any]]) -> None:
        self.t, self.i = toks, 0
        self.where_fields: list[str] = []
        self.terms: list[tuple[str, Any]] = []

    def peek(self, k: int = 0) -> tuple[str, Any]:
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", None)

    def take(self, kind: str, value: Any = None) -> Any:
        tk = self.peek()
        if tk[0] != kind or (value is not None and tk[1] != value):
            raise SoqlError(f"expected {value or kind}, found {tk[1]!r}")
        self.i += 1
        return tk[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        tk = self.peek()
        if tk[0] == kind and (value is None or tk[1] == value):
            self.i += 1
            return True
        return False

    def query(self) -> Query:
        self.take("kw", "SELECT")
        fields, count = [], False
        while True:
            name = self.take("word")
            if name.upper() == "COUNT" and self.accept("punct", "("):
                self.take("punct", ")")
                count = True
            else:
                fields.append(name)
            if not self.accept("punct", ","):
                break
        self.take("kw", "FROM")
        q = Query(fields, self.take("word"), count_only=count)
        if self.accept("kw", "WHERE"):
            q.where = self.condition()
            q.where_fields, q.terms = self.where_fields, self.terms
        if self.accept("kw", "ORDER"):
            self.take("kw", "BY")
            while True:
                f = self.take("word")
                desc = self.accept("kw", "DESC")
                if not desc:
                    self.accept("kw", "ASC")
                nulls_last = desc
                if self.accept("kw", "NULLS"):
                    nulls_last = self.accept("kw", "LAST")
                    if not nulls_last:
                        self.take("kw", "FIRST")
                q.order.append((f, desc, nulls_last))
                if not self.accept("punct", ","):
                    break
        if self.accept("kw", "LIMIT"):
            q.limit = int(self.take("val"))
        if self.accept("kw", "OFFSET"):
            q.offset = int(self.take("val"))
        if self.peek()[0] != "eof":
            raise SoqlError(f"unexpected token: {self.peek()[1]!r}")
        return q

    def condition(self) -> Callable[[Callable[[str], Any]], bool]:
        """A WHERE clause or a parenthesized group. SOQL gives AND, OR and NOT no precedence:
        "Parentheses are required whenever you mix the operators" ("Logical Operators", SOQL
        and SOSL Reference). So a group is one operand, ``NOT`` one operand, or operands joined
        by one kind of operator; Salesforce names the token where another one comes in
        (``x AND NOT (y)``: "unexpected token: 'NOT'", jetstreamapp/soql-parser-js#201). The
        explanation in parentheses is ours."""
        if self.accept("kw", "NOT"):
            inner = self.operand()
            if self.peek() in (("kw", "AND"), ("kw", "OR")):
                raise SoqlError(MIXED_NOT.format(self.peek()[1]))
            return lambda g: not inner(g)
        parts = [self.operand()]
        joiner = self.peek()[1] if self.peek() in (("kw", "AND"), ("kw", "OR")) else None
        while joiner and self.accept("kw", joiner):
            if self.peek() == ("kw", "NOT"):
                raise SoqlError(MIXED_NOT.format("NOT"))
            parts.append(self.operand())
        other = {"AND": "OR", "OR": "AND"}.get(joiner or "")
        if other and self.peek() == ("kw", other):
            raise SoqlError(MIXED.format(other))
        if len(parts) == 1:
            return parts[0]
        if joiner == "AND":
            return lambda g: all(p(g) for p in parts)
        return lambda g: any(p(g) for p in parts)

    def operand(self) -> Callable[[Callable[[str], Any]], bool]:
        """One field expression or a parenthesized group (``NOT NOT x`` is not in the grammar)."""
        if self.accept("punct", "("):
            e = self.condition()
            self.take("punct", ")")
            return e
        if self.peek() == ("kw", "NOT"):
            raise SoqlError(MIXED_NOT.format("NOT"))
        return self.comparison()

    def comparison(self) -> Callable[[Callable[[str], Any]], bool]:
        name = self.take("word")
        self.where_fields.append(name)
        negate = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("punct", "(")
            vals = [self.take("val")]
            while self.accept("punct", ","):
                vals.append(self.take("val"))
            self.take("punct", ")")
            self.terms += [(name, v) for v in vals]
            keys = {_key(v) for v in vals}
            return lambda g: (_key(g(name)) in keys) != negate
        if negate:
            raise SoqlError("NOT must be followed by IN here")
        if self.accept("kw", "LIKE"):
            pat = self.take("val")
            self.terms.append((name, pat))
            rx = re.compile("^" + re.escape(str(pat)).replace("%", ".*").replace("_", ".") + "$", re.I | re.S)
            return lambda g: g(name) is not None and bool(rx.match(str(g(name))))
        op = self.take("op")
        val = self.take("val")
        self.terms.append((name, val))
        return lambda g: _compare(g(name), op, val)


def _key(v: Any) -> Any:
    if isinstance(v, tuple):
        return v[1]
    return v.lower() if isinstance(v, str) else v


def _compare(have: Any, op: str, want: Any) -> bool:
    if isinstance(want, tuple) and want[0] == "date":  # against a date field's text
        want = want[1]
    elif isinstance(want, tuple):  # datetime literal against epoch ms
        # Salesforce ignores milliseconds when it compares datetimes: a literal at .900 equals
        # the stored second (salesforce.stackexchange.com/questions/234824)
        want = want[1] - want[1] % 1000
        if isinstance(have, str):
            try:
                have = parse_datetime_ms(have)
            except ValueError:
                return False
        if isinstance(have, int) and not isinstance(have, bool):
            have -= have % 1000
    if isinstance(have, str) and isinstance(want, str):
        have, want = have.lower(), want.lower()
    if op == "=":
        return have == want
    if op in ("!=", "<>"):
        return have != want
    if have is None or want is None:
        return False
    try:
        return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[op]
    except TypeError:
        return False


# What kind of literal each describe type needs, and how Salesforce names the type.
_NUMBER = {"double": "double", "currency": "double", "percent": "double", "int": "integer"}


def literal_problem(name: str, ftype: str, value: Any) -> str | None:
    """Salesforce's refusal of a WHERE literal of the wrong kind for the field, or None.
    Salesforce answers 400 INVALID_FIELD; it never compares across types."""
    if value is None:
        return None
    kind = value[0] if isinstance(value, tuple) else type(value).__name__
    if ftype == "datetime":
        ok, want, quoted = kind == "dt", "dateTime", False
    elif ftype == "date":
        ok, want, quoted = kind == "date", "date", False
    elif ftype in _NUMBER:
        ok, want, quoted = kind in ("int", "float"), _NUMBER[ftype], False
    elif ftype == "boolean":
        ok, want, quoted = kind == "bool", "boolean", False
    else:
        ok, want, quoted = kind == "str", "id" if ftype in ("id", "reference") else "string", True
    if ok:
        return None
    how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return f"value of filter criterion for field '{name}' must be of type {want} and {how}"


def parse(q: str) -> Query:
    """Parse a SOQL string; raises SoqlError with Salesforce-like wording."""
    return _Parser(_tokens(q)).query()


def no_such_column(q: str, name: str, sobject: str) -> str:
    """Salesforce's INVALID_FIELD message for a SOQL column ``sobject`` lacks, as recorded
    (apache/camel-quarkus#3022, forcedotcom/soql-tooling#86): the query's row, a caret under
    the column, "ERROR at Row:R:Column:C" (1-based), then the sentence. Salesforce shows a
    long row cut to a window around the column (how wide is not recorded); the sandbox shows
    the whole row."""
    sentence = (
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names."
    )
    at = re.search(r"(?<![\w.])" + re.escape(name) + r"(?![\w.])", q, re.IGNORECASE)
    if at is None:
        return sentence
    row = q.count("\n", 0, at.start())
    line_start = q.rfind("\n", 0, at.start()) + 1
    line = q.split("\n")[row]
    col = at.start() - line_start
    return f"\n{line}\n{' ' * col}^\nERROR at Row:{row + 1}:Column:{col + 1}\n{sentence}"
