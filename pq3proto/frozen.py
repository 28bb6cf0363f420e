"""Copies of this package's frozen state values with some fields changed, and fast builds.

Owns: `evolve`, the one way state transitions build their new values; `copier`, the same
copy specialised to a fixed set of fields for the per-message path; `fast_init`, a cheaper
`__init__` for plain frozen dataclasses.
Not: any state itself (ratchet.py, transport.py, session.py).

All three apply only to this package's plain frozen dataclasses: no __post_init__, no
slots, no default factories, every field in __init__. The values stay immutable: a copy is
a new instance whose dict is built before anyone else can see it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")
_C = TypeVar("_C", bound=type)
_new = object.__new__
_set = object.__setattr__


def evolve(value: _T, **changes: Any) -> _T:
    """A copy of a frozen state value with some fields changed; the original is untouched.

    dataclasses.replace re-runs __init__ over every field (about 10 µs for RatchetState);
    copying the instance dict is a tenth of that, which matters on the per-message path.
    """
    d = value.__dict__.copy()
    d.update(changes)
    new = _new(value.__class__)
    _set(new, "__dict__", d)
    return new


def copier(*names: str) -> Callable[..., Any]:
    """evolve specialised to `names`: copy(value, new_1, ..., new_k), positional, in order.

    About half the cost of evolve's keyword call; for the copies made on every message.
    """
    for name in names:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"not a field name: {name!r}")
    args = ", ".join(f"v{i}" for i in range(len(names)))
    sets = "".join(f"    d[{name!r}] = v{i}\n" for i, name in enumerate(names))
    src = (
        f"def copy(value, {args}):\n"
        "    d = value.__dict__.copy()\n"
        f"{sets}"
        "    new = _new(value.__class__)\n"
        "    _set(new, '__dict__', d)\n"
        "    return new\n"
    )
    namespace: dict[str, Any] = {"_new": _new, "_set": _set}
    exec(src, namespace)  # the source holds only the identifiers checked above
    copy: Callable[..., Any] = namespace["copy"]
    copy.__qualname__ = f"copier({', '.join(map(repr, names))})"
    return copy


def fast_init(cls: _C) -> _C:
    """Give a plain frozen dataclass an __init__ that sets the instance dict in one step.

    Same signature and defaults as the generated one; the dataclass's own __init__ sets each
    field through object.__setattr__, about twice the cost for six fields.
    """
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} has __post_init__ or slots")
    params, items = [], []
    defaults: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        if not f.init or f.default_factory is not dataclasses.MISSING or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain positional fields")
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            defaults[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        items.append(f"{f.name!r}: {f.name}")
    src = (
        f"def __init__(self, {', '.join(params)}):\n"
        f"    _set(self, '__dict__', {{{', '.join(items)}}})\n"
    )
    namespace: dict[str, Any] = {"_set": _set, **defaults}
    exec(src, namespace)  # the source holds only the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls
