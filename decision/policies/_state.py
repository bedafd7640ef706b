"""JSON-safe encoding of policy state, so a snapshot can live in a database column.

Arrays become ``{"__ndarray__": [...], "dtype": ..., "shape": [...]}``. Python's ``json`` writes
floats with ``repr``, so a float64 survives the round trip bit for bit; NaN and inf are written
as strings because strict JSON has no literal for them.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

_SPECIAL = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _float(v: float) -> float | str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def encode(value: Any) -> Any:
    """Turn arrays, numpy scalars and nested containers into JSON-safe values."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            data: list[Any] = [_float(v) for v in value.ravel().tolist()]
        elif value.dtype.kind in "iub":
            data = value.ravel().tolist()
        else:
            raise TypeError(f"cannot encode an array of dtype {value.dtype}")
        return {"__ndarray__": data, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot encode a {type(value).__name__} into a policy snapshot")


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            dtype = np.dtype(value["dtype"])
            data = [_SPECIAL.get(v, v) if isinstance(v, str) else v for v in value["__ndarray__"]]
            return np.asarray(data, dtype=dtype).reshape(value["shape"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    return value


def to_bytes(state: dict) -> bytes:
    """Pack a state dict into npz bytes: arrays stored natively, the rest as a JSON header."""
    arrays: dict[str, np.ndarray] = {}

    def strip(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = v
            return {"__npz__": key}
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    header = json.dumps(encode(strip(state)))
    buf = io.BytesIO()
    np.savez_compressed(buf, __header__=np.frombuffer(header.encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def from_bytes(blob: bytes) -> dict:
    """Inverse of :func:`to_bytes`; never unpickles."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        header = decode(json.loads(npz["__header__"].tobytes().decode()))
        arrays = {k: npz[k] for k in npz.files if k != "__header__"}

    def fill(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"__npz__"}:
                return arrays[v["__npz__"]]
            return {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v

    return fill(header)
