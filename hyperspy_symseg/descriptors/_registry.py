"""The registry of descriptor families: each family declares its parameters and a builder."""

from __future__ import annotations

from collections.abc import Callable

from .. import _validation as check

_FAMILIES: dict[str, tuple[dict, Callable]] = {}


def register(name: str, defaults: dict, builder: Callable) -> None:
    """Make a descriptor family available under ``name``.

    ``defaults`` maps every parameter of the family to its default (None for a
    required parameter); ``builder(name, **parameters)`` checks the values and
    returns the descriptor object.
    """
    _FAMILIES[name] = (dict(defaults), builder)


def descriptor_names() -> tuple[str, ...]:
    """Names of the registered descriptor families."""
    return tuple(_FAMILIES)


def descriptor_parameters(name: str) -> dict:
    """The parameters of a descriptor family and their defaults."""
    check.check_choice("descriptor", name, descriptor_names())
    return dict(_FAMILIES[name][0])


def make_descriptor(name: str = "local_correlation_map", **parameters):
    """Build a descriptor from its family name and parameters.

    Parameters left out take the family's defaults; a value given, None included, is
    used as given (e.g. ``taper=None`` for no taper). A parameter the family does not
    have raises a TypeError naming the families that have it.
    """
    check.check_choice("descriptor", name, descriptor_names())
    defaults, builder = _FAMILIES[name]
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        owners = {p: [n for n, (d, _) in _FAMILIES.items() if p in d] for p in unknown}
        detail = "; ".join(
            f"{p!r} belongs to " + (", ".join(repr(n) for n in owners[p]) if owners[p] else "no descriptor")
            for p in unknown
        )
        raise TypeError(
            f"descriptor {name!r} has no parameter {', '.join(map(repr, unknown))} ({detail}). "
            f"Its parameters are: {', '.join(defaults)}."
        )
    values = {**defaults, **parameters}
    return builder(name, **values)
