"""The nearest valid key for a misspelled one in hub.yaml, so `hub config validate` can say
"did you mean 'chunk_size'?" as it names the unknown key's path.

The keys come from the pydantic model of the section the unknown key sits in, found by walking
the error's location (model fields, list items, dict values) down from the root model. Where
the walk cannot tell (a union of models, a plugin's free-form section) there is no guess.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel


def nearest_key(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The valid key closest to ``loc[-1]`` in the section at ``loc[:-1]`` below ``model``, if one is close."""
    section: Any = model
    for part in loc[:-1]:
        section = _step(section, part)
        if section is None:
            return None
    keys = _keys(section)
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.75)
    return close[0] if close else None


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` are X; a union of several types stays as it is."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _step(tp: Any, part: Any) -> Any:
    """The type one step down: a model's field, a list's item, a dict's value; None if unknown."""
    tp = _unwrap(tp)
    if _is_model(tp):
        field = tp.model_fields.get(part) or next((f for f in tp.model_fields.values() if f.alias == part), None)
        return field.annotation if field is not None else None
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _keys(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if not _is_model(tp):
        return []
    return [f.alias or name for name, f in tp.model_fields.items()]
