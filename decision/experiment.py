"""Stable experiment arms: engine, legacy-rules holdout, no-action control, random control and
ablation arms (the engine with one component switched off).

A contact's arm is a pure function of (contact id, salt): FNV-1a over the id's characters,
mixed with a hash of the salt and a splitmix64 finaliser, mapped to [0, 1). It is computed
for a whole array of ids at once (one numpy pass per character position), does not depend on
which other ids are in the batch or on the process (unlike Python's ``hash``), and changing
the salt reshuffles everyone independently of the previous experiment.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import numpy as np

from hub.errors import DecisionError

ENGINE, HOLDOUT, CONTROL, RANDOM = "engine", "holdout", "control", "random"
#: the engine components an ablation arm can switch off (hub.yaml
#: ``decision.engine.experiments.ablations``); the arm is named ``no_<component>``
COMPONENTS = ("learned_propensities", "long_term_value", "send_time", "content", "opt_out_model")
ABLATION_PREFIX = "no_"
#: arms whose action the engine chooses (the random arm draws it; ablations choose without one part)
ENGINE_ARMS = (ENGINE, RANDOM, *(ABLATION_PREFIX + c for c in COMPONENTS))


def ablation_arm(component: str) -> str:
    """``no_long_term_value`` for ``long_term_value``."""
    if component not in COMPONENTS:
        raise DecisionError(f"unknown engine component {component!r}; known: {', '.join(COMPONENTS)}")
    return ABLATION_PREFIX + component


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _splitmix(h: np.ndarray) -> np.ndarray:
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


_MASK = (1 << 64) - 1
#: up to this many ids are hashed with Python ints (a real-time decision hashes one): the
#: array version's fixed cost is about 100 numpy calls
_SCALAR_MAX = 16


@functools.lru_cache(maxsize=64)
def _salt_key(salt: str) -> int:
    return int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "big")


_FNV_OFFSET_INT, _FNV_PRIME_INT = int(_FNV_OFFSET), int(_FNV_PRIME)


def _unit_hash_one(s: str, salt: str) -> float:
    """:func:`unit_hash` of one id, bit for bit, in Python ints (FNV-1a over code points, then
    splitmix64)."""
    h = _FNV_OFFSET_INT
    for ch in s:
        h = ((h ^ ord(ch)) * _FNV_PRIME_INT) & _MASK
    h ^= _salt_key(salt)
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
    h ^= h >> 31
    return (h >> 11) / float(2**53)


def _few_unit_hashes(ids: Any, salt: str) -> list[float] | None:
    """:func:`unit_hash` of a few ids given as a list or tuple of ints and strings, in Python
    (a real-time decision hashes one: the array version's fixed cost is about 100 numpy calls);
    None for any other ``ids``."""
    if not isinstance(ids, (list, tuple)) or len(ids) > _SCALAR_MAX:
        return None
    out = []
    for i in ids:
        if type(i) not in (int, str):
            return None
        out.append(_unit_hash_one(str(i), salt))
    return out


def unit_hash(ids: Any, salt: str) -> np.ndarray:
    """Uniform value in [0, 1) per id; ``42`` and ``"42"`` hash alike.

    >>> u = unit_hash(["a", "b", "a"], "exp-1")
    >>> bool(u[0] == u[2]), bool(0 <= u.min() and u.max() < 1)
    (True, True)
    """
    few = _few_unit_hashes(ids, salt)
    if few is not None:
        return np.array(few, dtype=np.float64)
    s = np.asarray(ids).astype(str)
    if s.ndim != 1:
        raise DecisionError(f"ids must be a 1-d array; got shape {s.shape}.")
    n = len(s)
    width = s.dtype.itemsize // 4
    codes = s.view(np.uint32).reshape(n, width) if n and width else np.zeros((n, 0), np.uint32)
    lengths = np.char.str_len(s) if n else np.zeros(0, dtype=int)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(codes.shape[1]):
            stepped = (h ^ codes[:, j].astype(np.uint64)) * _FNV_PRIME
            h = np.where(j < lengths, stepped, h)
        h = _splitmix(h ^ np.uint64(_salt_key(salt)))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def assign_arms(
    ids: Any,
    salt: str,
    *,
    holdout_share: float = 0.1,
    control_share: float = 0.0,
    random_share: float = 0.0,
    ablations: dict[str, float] | None = None,
) -> np.ndarray:
    """Arm name per id: ``holdout`` (legacy rules), ``control`` (no action), ``random`` (an
    eligible action at random), ``no_<component>`` (the engine without that component) or
    ``engine``.

    The unit interval is cut in that order (holdout first, ablations in :data:`COMPONENTS`
    order). The holdout always keeps its contacts, and adding or growing a share moves contacts
    out of the engine arm only when no later arm has a share yet; otherwise the later arms'
    cuts move and people change arms (reports keep each person's first arm): a new salt is then
    the honest choice.

    >>> arms = assign_arms(range(10_000), "q3-rollout", holdout_share=0.2, ablations={"send_time": 0.1})
    >>> bool(0.18 < (arms == "holdout").mean() < 0.22), bool(0.08 < (arms == "no_send_time").mean() < 0.12)
    (True, True)
    """
    bounds = _bounds(holdout_share, control_share, random_share, tuple((ablations or {}).items()))
    few = _few_unit_hashes(ids, salt)
    if few is None:
        u = unit_hash(ids, salt)
        if len(u) > _SCALAR_MAX:
            arms = np.full(len(u), ENGINE, dtype=object)
            for arm, upper in bounds:  # narrower prefixes overwrite: arm k gets [lo_k, hi_k)
                arms[u < upper] = arm
            return arms.astype(str)
        few = u.tolist()
    # a few ids (a real-time decision: one): the same cuts, in Python
    return np.array([_arm_of(x, bounds) for x in few], dtype=str) if few else np.zeros(0, dtype=str)


@functools.lru_cache(maxsize=64)
def _bounds(
    holdout_share: float, control_share: float, random_share: float, ablations: tuple[tuple[str, float], ...]
) -> tuple[tuple[str, float], ...]:
    """Each arm of :func:`assign_arms` with the upper end of its prefix of the unit interval,
    widest first (the running sums, narrower prefixes overwrite), after checking the shares:
    the same every decision, so worked out once."""
    for c, _ in ablations:
        ablation_arm(c)
    shares = dict(ablations)
    cuts = [(HOLDOUT, holdout_share), (CONTROL, control_share), (RANDOM, random_share)]
    cuts += [(ablation_arm(c), float(shares[c])) for c in COMPONENTS if c in shares]
    if any(share < 0 for _, share in cuts) or sum(share for _, share in cuts) > 1:
        raise DecisionError(
            "experiment shares must be non-negative and sum to at most 1; got "
            + ", ".join(f"{arm} {share}" for arm, share in cuts)
        )
    bounds = []
    upper = sum(share for _, share in cuts)
    for arm, share in reversed(cuts):
        bounds.append((arm, upper))
        upper -= share
    return tuple(bounds)


def _arm_of(u: float, bounds: tuple[tuple[str, float], ...]) -> str:
    """The arm of one unit value: exactly what :func:`assign_arms`' array loop gives it (the
    same bounds, narrowest prefix last)."""
    arm_of = ENGINE
    for arm, upper in bounds:
        if u < upper:
            arm_of = arm
    return arm_of
