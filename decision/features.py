"""Contact features: a pure function of (contact, profile of history up to decision time, now).

The schema is versioned: :data:`FEATURE_VERSION` changes whenever a name is added, removed or
re-ordered, and a policy built on another version is not reused (its weights would be read
against the wrong columns). :func:`feature_names` lists the columns; they are:

- ``{type}_{w}d``: log(1 + count) of each activity type over the last 1/7/30/90 days;
- ``days_since_{type}``: log(1 + days since the newest one) / log(366), 365 days when never seen;
- ``pricing_{w}d`` / ``docs_{w}d``: visits to pricing and docs pages (activity properties);
- ``topic_{name}``: share of the contact's topical activity of the last 90 days per topic;
- ``email_open_rate`` / ``email_click_rate``: opens and clicks per email sent (90 days, smoothed);
- firmographics: one-hot industry and country buckets (``other`` and ``unknown`` included;
  the buckets are a :class:`Vocabulary`, set from ``decision.engine.features`` in hub.yaml to
  the values a CRM actually uses),
  ``log_employees`` / ``log_revenue`` with a missing flag each;
- ``seniority_*`` and ``department_*`` one-hots parsed from the job title;
- ``stage_*`` one-hot lifecycle stage;
- ``days_since_marketing_touch`` / ``days_since_sales_touch`` with ``never_*`` flags.

Missing values become a neutral value plus an indicator, never NaN. Only activities at or before
``now`` count: bucket days after ``now``'s day and ``last`` stamps after ``now`` are ignored, and
today's bucket of a kind whose newest occurrence is after ``now`` is dropped whole, so a profile
updated after the decision cannot leak into it (see hub/profile.py). Windows are calendar
days (UTC): ``1d`` is today so far.

The per-row loop only reads JSON into index arrays; counting and transforms are numpy over the
whole batch.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import operator
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from hub.models import Contact
from hub.profile import DAY_SECONDS

WINDOWS = (1, 7, 30, 90)
ACTIVITY_KINDS = (
    "page_view",
    "email_sent",
    "email_open",
    "email_click",
    "form_submit",
    "content_download",
    "webinar",
    "meeting",
    "call",
    "unsubscribe",
)
PAGE_KINDS = ("pricing", "docs")
MARKETING_TOUCH = ("email_sent",)
SALES_TOUCH = ("call", "meeting")
INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "telecommunications",
    "logistics",
    "energy",
    "media",
)
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "JP", "AU", "BR", "CA", "NL")
STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)
SENIORITY = {
    "executive": r"\b(chief|c[etfmio]o|founder|owner|president|partner)\b",
    "vp": r"\b(vp|vice president|svp|evp)\b",
    "director": r"\b(director|head of|head)\b",
    "manager": r"\b(manager|lead|principal|supervisor)\b",
}
DEPARTMENTS = {
    "technical": r"\b(engineer\w*|developer|devops|architect|cto|it|data|software|technical|security)\b",
    "marketing": r"\b(marketing|cmo|growth|brand|content)\b",
    "sales": r"\b(sales|account|business development|bdr|sdr|revenue)\b",
    "finance": r"\b(finance|financial|cfo|accounting|controller)\b",
    "operations": r"\b(operations|ops|coo|supply)\b",
    "product": r"\b(product)\b",
}
NEVER_DAYS = 365.0
DEFAULT_TOPICS = ("technical", "business")


def _industry_key(v: str | None) -> str:
    return (v or "").strip().lower().replace(" ", "_")


def _country_key(v: str | None) -> str:
    return (v or "").strip().upper()


def _stage_key(v: str | None) -> str:
    return (v or "").strip().lower()


@dataclass(frozen=True)
class Vocabulary:
    """The one-hot buckets of industry, country and lifecycle stage; any other value is
    ``other``, a blank one ``unknown``. The defaults are the sandbox's (and HubSpot's stage)
    values; a real CRM's picklists go in ``decision.engine.features``.

    >>> v = Vocabulary.of(industries=["Computer Software", "Banking"], countries=["us"])
    >>> v.industries, v.countries, v.stages == STAGES
    (('computer_software', 'banking'), ('US',), True)
    """

    industries: tuple[str, ...] = INDUSTRIES
    countries: tuple[str, ...] = COUNTRIES
    stages: tuple[str, ...] = STAGES

    @classmethod
    def of(
        cls,
        industries: Sequence[str] | None = None,
        countries: Sequence[str] | None = None,
        stages: Sequence[str] | None = None,
    ) -> Vocabulary:
        """Normalized the way values are read (industry lower_snake, country upper, stage lower)."""

        def norm(values: Sequence[str] | None, key, default: tuple[str, ...]) -> tuple[str, ...]:  # noqa: ANN001
            return default if values is None else tuple(dict.fromkeys(k for k in map(key, values) if k))

        return cls(
            norm(industries, _industry_key, INDUSTRIES),
            norm(countries, _country_key, COUNTRIES),
            norm(stages, _stage_key, STAGES),
        )


DEFAULT_VOCABULARY = Vocabulary()


def feature_names(topics: Sequence[str] = DEFAULT_TOPICS, vocab: Vocabulary = DEFAULT_VOCABULARY) -> list[str]:
    names = [f"{k}_{w}d" for k in ACTIVITY_KINDS for w in WINDOWS]
    names += [f"days_since_{k}" for k in ACTIVITY_KINDS]
    names += [f"{p}_{w}d" for p in PAGE_KINDS for w in (7, 30)]
    names += [f"topic_{t}" for t in topics]
    names += ["email_open_rate", "email_click_rate"]
    names += [f"industry_{i}" for i in (*vocab.industries, "other", "unknown")]
    names += [f"country_{c}" for c in (*vocab.countries, "other", "unknown")]
    names += ["log_employees", "employees_missing", "log_revenue", "revenue_missing"]
    names += [f"seniority_{s}" for s in (*SENIORITY, "individual", "unknown")]
    names += [f"department_{d}" for d in (*DEPARTMENTS, "other", "unknown")]
    names += [f"stage_{s}" for s in (*vocab.stages, "other", "unknown")]
    names += ["days_since_marketing_touch", "never_marketing_touch", "days_since_sales_touch", "never_sales_touch"]
    return names


#: one-hot and flag columns: 0/1, so a squared term would only repeat them
INDICATOR_PREFIXES = ("industry_", "country_", "seniority_", "department_", "stage_", "never_")


def numeric_columns(names: Sequence[str]) -> list[int]:
    """Indices of the count-like columns (counts, recencies, rates, sizes): the ones whose
    reward may bend, and the only ones the engine gives a squared term."""
    return [j for j, n in enumerate(names) if not n.startswith(INDICATOR_PREFIXES) and not n.endswith("_missing")]


def feature_version(topics: Sequence[str] = DEFAULT_TOPICS, vocab: Vocabulary = DEFAULT_VOCABULARY) -> str:
    """``f1-<hash of the names>``: bump the prefix for a change of meaning, the hash follows names."""
    return _schema(tuple(topics), vocab).version


_WINDOW_EDGES = np.array(WINDOWS, dtype=float)
_SIZE_SCALE = np.array([5.0, 10.0])  # log1p of employees and of revenue, to ~0..2
_LOG_NEVER = np.log1p(NEVER_DAYS)  # the days columns' scale
assert (np.diff(_WINDOW_EDGES) > 0).all() and WINDOWS[-1] == 90  # the topic and rate columns read 90 days


@dataclass(frozen=True)
class _Schema:
    """What :func:`featurize` derives from the names alone, built once per (topics, vocabulary)."""

    names: tuple[str, ...]
    col: dict[str, int]
    version: str
    kinds: tuple[str, ...]  # profile kinds read: activities, pages, then topics
    kind_ix: dict[str, int]
    since_cols: np.ndarray  # days_since_<kind> per activity kind
    # every window count featurize reads, gathered in one call from the (n, bands x kinds)
    # cumulative counts (a one-row batch pays per numpy call): the activity kinds' counts per
    # window, the page kinds' per 7 and 30 days (written to ``count_cols``), then the topics'
    # and e-mail sent / open / click counts over 90 days
    count_src: np.ndarray
    count_cols: np.ndarray
    topic_cols: np.ndarray  # topic_<t> per topic
    touch_ix: np.ndarray  # the marketing then the sales touch kinds' positions in ``kinds``
    touch_starts: np.ndarray  # where each group starts in touch_ix
    touch_since: np.ndarray  # days_since_<group>_touch, never_<group>_touch
    touch_never: np.ndarray
    #: the model's scaling in one pass (:func:`_scale`): the columns that enter as log1p (counts,
    #: recencies, sizes) and what each is divided by after it (1 for counts: exact)
    scaled_cols: np.ndarray
    scaled_div: np.ndarray
    #: for one row (:func:`_history_one`): the columns it writes, in its order, and the
    #: gathers above on Python lists (the touch groups as lists of kind positions)
    history_cols: np.ndarray
    history_pack: struct.Struct  # the history columns as C doubles
    count_get: Callable[[list[float]], tuple[float, ...]]  # itemgetter of ``count_src``
    touch_groups: list[list[int]]
    #: per age in days below the widest window, the first window holding it, and per kind and
    #: first window, the kind's count positions in that window and every wider one
    first_window: list[int]
    window_slots: list[list[list[int]]]
    #: one-hot columns by a contact's raw values (:func:`_onehot_cols`), filled as contacts come
    onehots: dict[tuple[Any, ...], tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)


@functools.lru_cache(maxsize=32)
def _schema(topics: tuple[str, ...], vocab: Vocabulary) -> _Schema:
    names = feature_names(topics, vocab)
    col = {n: j for j, n in enumerate(names)}
    digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:8]
    logged = [col[f"{kind}_{w}d"] for kind in ACTIVITY_KINDS for w in WINDOWS]
    logged += [col[f"days_since_{kind}"] for kind in ACTIVITY_KINDS]
    logged += [col[f"{p}_{w}d"] for p in PAGE_KINDS for w in (7, 30)]
    logged += [col["days_since_marketing_touch"], col["days_since_sales_touch"]]
    days = [col[f"days_since_{kind}"] for kind in ACTIVITY_KINDS]
    days += [col["days_since_marketing_touch"], col["days_since_sales_touch"]]
    kinds = (*ACTIVITY_KINDS, *PAGE_KINDS, *(f"topic:{t}" for t in topics))
    kind_ix = {k: i for i, k in enumerate(kinds)}
    nk = len(kinds)

    def src(w: int, kind: str) -> int:  # a count's position in the (bands x kinds) row
        return WINDOWS.index(w) * nk + kind_ix[kind]

    counted = [(w, kind) for w in WINDOWS for kind in ACTIVITY_KINDS]
    counted += [(w, p) for w in (7, 30) for p in PAGE_KINDS]
    read_90 = [f"topic:{t}" for t in topics] + ["email_sent", "email_open", "email_click"]
    history = (  # the columns _history_one writes, in its order
        [col[f"days_since_{kind}"] for kind in ACTIVITY_KINDS]
        + [col[f"{kind}_{w}d"] for w, kind in counted]
        + [col[f"topic_{t}"] for t in topics]
        + [col["email_open_rate"], col["email_click_rate"]]
        + [col["days_since_marketing_touch"], col["days_since_sales_touch"]]
        + [col["never_marketing_touch"], col["never_sales_touch"]]
    )
    return _Schema(
        tuple(names),
        col,
        f"f1-{digest}",
        kinds,
        kind_ix,
        np.array([col[f"days_since_{kind}"] for kind in ACTIVITY_KINDS]),
        np.array([src(w, kind) for w, kind in counted] + [src(90, kind) for kind in read_90], dtype=np.intp),
        np.array([col[f"{kind}_{w}d"] for w, kind in counted], dtype=np.intp),
        np.array([col[f"topic_{t}"] for t in topics], dtype=np.intp),
        np.array([kind_ix[x] for x in (*MARKETING_TOUCH, *SALES_TOUCH)], dtype=np.intp),
        np.array([0, len(MARKETING_TOUCH)], dtype=np.intp),
        np.array([col["days_since_marketing_touch"], col["days_since_sales_touch"]]),
        np.array([col["never_marketing_touch"], col["never_sales_touch"]]),
        np.array([*logged, col["log_employees"], col["log_revenue"]], dtype=np.intp),
        np.array([_LOG_NEVER if j in days else 1.0 for j in logged] + _SIZE_SCALE.tolist()),
        np.array(history, dtype=np.intp),
        struct.Struct(f"{len(history)}d"),
        operator.itemgetter(*(src(w, kind) for w, kind in counted), *(src(90, kind) for kind in read_90)),
        [[kind_ix[x] for x in MARKETING_TOUCH], [kind_ix[x] for x in SALES_TOUCH]],
        [bisect.bisect_right(WINDOWS, age) for age in range(WINDOWS[-1])],
        [[[w * nk + k for w in range(first, len(WINDOWS))] for first in range(len(WINDOWS))] for k in range(nk)],
    )


@dataclass(frozen=True)
class Features:
    """``X`` (n, d) model input; ``raw`` (n, d) the same columns in readable units (counts, days)."""

    X: np.ndarray
    raw: np.ndarray
    names: list[str]
    version: str
    #: name -> column, shared with the cached schema (a decision reads some thirty columns by
    #: name, and ``names.index`` scans the list each time); built on first use when not given
    index: dict[str, int] | None = field(default=None, compare=False, repr=False)

    def column(self, name: str) -> np.ndarray:
        return self.raw[:, self.position(name)]

    def position(self, name: str) -> int:
        """``names.index(name)``, from a dict (the first column of that name, ValueError if none)."""
        index = self.index
        if index is None:
            index = {}
            for j, n in enumerate(self.names):
                index.setdefault(n, j)
            object.__setattr__(self, "index", index)
        if name not in index:
            raise ValueError(f"{name!r} is not in list")
        return index[name]

    def subset(self, rows: np.ndarray) -> Features:
        """The same features for ``rows`` only."""
        return Features(self.X[rows], self.raw[rows], self.names, self.version, self.index)


_COMPILED = {id(p): [(name, re.compile(pat)) for name, pat in p.items()] for p in (SENIORITY, DEPARTMENTS)}


@functools.lru_cache(maxsize=4096)
def _title_classes(title: str | None) -> tuple[str, str]:
    """(seniority, department) of a job title: a few distinct titles recur across contacts."""
    return _title_class(title, SENIORITY, "individual"), _title_class(title, DEPARTMENTS, "other")


def _title_class(title: str | None, patterns: dict[str, str], fallback: str) -> str:
    if not title:
        return "unknown"
    t = title.lower()
    for name, pat in _COMPILED[id(patterns)]:
        if pat.search(t):
            return name
    return fallback


def featurize(
    contacts: Sequence[Contact],
    profiles: Sequence[dict[str, Any] | None],
    now: datetime,
    topics: Sequence[str] = DEFAULT_TOPICS,
    vocab: Vocabulary = DEFAULT_VOCABULARY,
) -> Features:
    """Features for a batch; ``profiles[i]`` is contact i's profile (None = no history)."""
    schema = _schema(tuple(topics), vocab)
    col = schema.col
    n, d = len(contacts), len(schema.names)
    raw = np.zeros((n, d))
    now_ts = now.timestamp()
    today = int(now_ts // DAY_SECONDS)
    kinds, kind_ix = schema.kinds, schema.kind_ix
    if n == 1:  # a real-time row: the same sums and minima on Python floats, no index arrays
        history = schema.history_pack.pack(*_history_one(profiles[0], now_ts, today, schema))
        raw[0][schema.history_cols] = np.frombuffer(history)  # packed: a third of np.array's cost per float
        return _finish(contacts, raw, schema, vocab)
    rows, kix, ages, counts = [], [], [], []
    last = np.full((n, len(kinds)), np.nan)  # days since newest occurrence
    future = np.zeros((n, len(kinds)), dtype=bool)  # some occurrence is after `now`
    for i, prof in enumerate(profiles):
        if not prof:
            continue
        for kind, bucket in prof.get("days", {}).items():
            k = kind_ix.get(kind)
            if k is None:
                continue
            for day, c in bucket.items():
                rows.append(i)
                kix.append(k)
                ages.append(today - int(day))
                counts.append(c)
        for kind, ts in prof.get("last", {}).items():
            k = kind_ix.get(kind)
            if k is not None and ts <= now_ts:
                last[i, k] = (now_ts - ts) / DAY_SECONDS
            elif k is not None:
                future[i, k] = True
    r, k = np.asarray(rows, dtype=np.intp), np.asarray(kix, dtype=np.intp)
    age, c = np.asarray(ages, dtype=float), np.asarray(counts, dtype=float)
    if len(r):
        # buckets after today are the future; so is today's bucket of a kind seen after `now`
        # (it cannot be split), which undercounts today rather than leak
        ok = (age > 0) | ((age == 0) & ~future[r, k]) if future.any() else age >= 0
        r, k, age, c = r[ok], k[ok], age[ok], c[ok]
    # counts per window in one pass: each bucket's band is the narrowest window holding it
    # (len(WINDOWS): none), and a window's count sums the bands up to its own (exact: counts
    # are whole numbers)
    nk, nb = len(kinds), len(WINDOWS) + 1
    band = np.searchsorted(_WINDOW_EDGES, age, side="right")
    per_band = np.bincount((band * n + r) * nk + k, weights=c, minlength=nb * n * nk)
    cum = per_band.reshape(nb, n, nk).cumsum(axis=0)
    # recency from buckets where `last` is missing or in the future (day granularity)
    bucket_recent = np.full((n, len(kinds)), np.inf)
    np.minimum.at(bucket_recent, (r, k), age)
    last = np.where(np.isnan(last), np.where(np.isinf(bucket_recent), np.nan, bucket_recent), last)
    na = len(ACTIVITY_KINDS)
    raw[:, schema.since_cols] = np.where(np.isnan(last[:, :na]), NEVER_DAYS, last[:, :na])
    counts = cum.transpose(1, 0, 2).reshape(n, nb * nk)[:, schema.count_src]
    nc, nt = len(schema.count_cols), len(schema.topic_cols)
    raw[:, schema.count_cols] = counts[:, :nc]
    t_counts = counts[:, nc : nc + nt]
    raw[:, schema.topic_cols] = t_counts / (t_counts.sum(axis=1, keepdims=True) + 1.0)
    sent = counts[:, nc + nt]
    raw[:, col["email_open_rate"]] = counts[:, nc + nt + 1] / (sent + 1.0)
    raw[:, col["email_click_rate"]] = counts[:, nc + nt + 2] / (sent + 1.0)
    # per touch group (marketing, sales): the newest of its kinds, NaN where none was ever seen
    newest = np.fmin.reduceat(last[:, schema.touch_ix], schema.touch_starts, axis=1)
    never = np.isnan(newest)
    raw[:, schema.touch_since] = np.where(never, NEVER_DAYS, newest)
    raw[:, schema.touch_never] = never
    return _finish(contacts, raw, schema, vocab)


def _finish(contacts: Sequence[Contact], raw: np.ndarray, schema: _Schema, vocab: Vocabulary) -> Features:
    """The static columns, then the model's scaling of ``raw`` (history columns written)."""
    _static(contacts, raw, schema, vocab)
    X = raw.copy()
    if len(X) == 1:  # a real-time row: the same steps on its 1-d view, at half the indexing cost
        _scale(X[0], schema.scaled_cols, schema.scaled_div)
    else:
        _scale(X.T, schema.scaled_cols, schema.scaled_div[:, None])
    return Features(X, raw, list(schema.names), schema.version, schema.col)


def _scale(x: np.ndarray, cols: np.ndarray, div: np.ndarray) -> None:
    """The model's scaling of the raw columns, in place on ``x`` indexed by column first (one
    row, or the batch transposed): ``log1p`` of counts, recencies and sizes, recencies then
    divided by log(366) (0 = today .. 1 = a year or never: the scale of the rest), employees by
    5 (~0..2) and revenue by 10. Sizes are never negative, so the floor at 0 leaves them be."""
    x[cols] = np.log1p(np.maximum(x[cols], 0.0)) / div


def _history_one(prof: dict[str, Any] | None, now_ts: float, today: int, schema: _Schema) -> list[float]:
    """One profile's history columns in ``schema.history_cols`` order: what :func:`featurize`
    computes for a batch, bit for bit (counts are whole numbers, so their sums are exact in any
    order; recencies are the same single float operations), in plain Python: on one row each
    numpy call costs more than its work. Kinds never seen cost nothing: recencies are kept for
    the kinds seen only (NaN, the batch's "never", is a missing key)."""
    kind_ix, inf = schema.kind_ix, math.inf
    flat = [0.0] * (len(WINDOWS) * len(schema.kinds))  # window w's count of kind k at w * nk + k
    last: dict[int, float] = {}  # days since the newest occurrence at or before now, per kind
    future: set[int] = set()  # kinds with an occurrence after now
    if prof:
        for kind, ts in prof.get("last", {}).items():
            k = kind_ix.get(kind)
            if k is not None and ts <= now_ts:
                days = (now_ts - ts) / DAY_SECONDS
                if days == days:
                    last[k] = days
            elif k is not None:
                future.add(k)
        first, slots, widest = schema.first_window, schema.window_slots, WINDOWS[-1]
        for kind, bucket in prof.get("days", {}).items():
            k = kind_ix.get(kind)
            if k is None:
                continue
            newest = inf  # the newest kept bucket's age
            for day, c in bucket.items():
                age = today - int(day)
                if age > 0 or (age == 0 and k not in future):  # the batch's future rule
                    if age < newest:
                        newest = age
                    if age < widest:
                        for j in slots[k][first[age]]:  # its count in each window holding it
                            flat[j] += c
            if newest != inf and k not in last:  # recency from buckets where `last` is missing or in the future
                last[k] = float(newest)
    na = len(ACTIVITY_KINDS)
    out = [NEVER_DAYS] * na
    for k, days in last.items():
        if k < na:
            out[k] = days
    counts = schema.count_get(flat)  # floats already: sums of whole numbers onto 0.0
    nc, nt = len(schema.count_cols), len(schema.topic_cols)
    out += counts[:nc]
    t_counts = counts[nc : nc + nt]
    total = sum(t_counts) + 1.0
    for t in t_counts:
        out.append(t / total)
    sent = counts[nc + nt]
    out += (counts[nc + nt + 1] / (sent + 1.0), counts[nc + nt + 2] / (sent + 1.0))
    never = []
    for group in schema.touch_groups:  # np.fmin.reduceat: the smallest recency, "never" when none was seen
        seen = [last[k] for k in group if k in last]
        out.append(min(seen) if seen else NEVER_DAYS)
        never.append(0.0 if seen else 1.0)
    return out + never


def _bucket(key: str, known: tuple[str, ...]) -> str:
    return key if key in known else ("other" if key else "unknown")


def _static(contacts: Sequence[Contact], raw: np.ndarray, schema: _Schema, vocab: Vocabulary) -> None:
    """Firmographics, title and stage: one Python pass over the batch, index writes only."""
    col = schema.col
    for i, c in enumerate(contacts):
        row = raw[i]
        for j in _onehot_cols(c, schema, vocab):
            row[j] = 1
        emp, rev = c.company.employees, c.company.annual_revenue
        row[col["log_employees"]] = emp if emp and emp > 0 else 0.0
        row[col["employees_missing"]] = not (emp and emp > 0)
        row[col["log_revenue"]] = rev if rev and rev > 0 else 0.0
        row[col["revenue_missing"]] = not (rev and rev > 0)


#: distinct (industry, country, title, stage) values whose one-hot columns a schema keeps
_ONEHOTS_KEPT = 4096


def _onehot_cols(c: Contact, schema: _Schema, vocab: Vocabulary) -> tuple[int, ...]:
    """A contact's industry, country, seniority, department and stage columns, kept per schema
    by the raw values: a few distinct ones recur across contacts, and bucketing them costs more
    than writing the row."""
    key = (c.company.industry, c.company.country, c.job_title or c.role, c.lifecycle_stage)
    found = schema.onehots.get(key)
    if found is None:
        col = schema.col
        seniority, department = _title_classes(key[2])
        found = (
            col[f"industry_{_bucket(_industry_key(key[0]), vocab.industries)}"],
            col[f"country_{_bucket(_country_key(key[1]), vocab.countries)}"],
            col[f"seniority_{seniority}"],
            col[f"department_{department}"],
            col[f"stage_{_bucket(_stage_key(key[3]), vocab.stages)}"],
        )
        if len(schema.onehots) >= _ONEHOTS_KEPT:  # free-text values: start over rather than grow
            schema.onehots.clear()
        schema.onehots[key] = found
    return found
