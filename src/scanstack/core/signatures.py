"""Options checked against the signature of the reader or writer they are for, before it runs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import UnknownOptionError

if TYPE_CHECKING:
    from .registry import FormatSpec


def _parameters(func: Callable[..., Any], leading: int) -> tuple[list[str], bool] | None:
    """(keyword options named by ``func`` after ``leading`` positional inputs, takes **options),
    or None when ``func`` has no signature (builtins, C callables)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p for p in params if p.kind is p.POSITIONAL_ONLY]
    skip = max(0, leading - len(positional))
    return [p.name for p in named[skip:]], any(p.kind is p.VAR_KEYWORD for p in params)


def accepted_options(func: Callable[..., Any], leading: int) -> list[str] | None:
    """Keyword options ``func`` accepts after its ``leading`` positional inputs.

    ``None`` when it takes ``**options`` (it checks them itself). Wrappers declare the callable
    they forward to with ``__wrapped__`` (``functools.wraps`` or by hand), which
    :func:`inspect.signature` follows, or a :func:`forwarding_signature`, so the signature of the
    real reader or writer decides.
    """
    found = _parameters(func, leading)
    if found is None or found[1]:
        return None
    return found[0]


def forwarding_signature(
    wrapper: Callable[..., Any], target: Callable[..., Any], fixed: tuple[str, ...] = ()
) -> inspect.Signature:
    """The signature of ``wrapper(..., **options)`` that passes ``options`` on to ``target``.

    ``wrapper``'s own parameters, then ``target``'s keyword parameters that the wrapper does not
    already take or set itself (``fixed``). Assign it to ``wrapper.__signature__`` so the registry
    checks forwarded options up front.
    """
    own = [p for p in inspect.signature(wrapper).parameters.values() if p.kind is not p.VAR_KEYWORD]
    taken = {p.name for p in own} | set(fixed)
    forwarded = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in inspect.signature(target).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in taken
    ]
    return inspect.Signature(own + forwarded)


def check_options(
    spec: FormatSpec, kind: str, func: Callable[..., Any], leading: int, options: dict
) -> None:
    """:class:`UnknownOptionError`, listing the accepted options, for an option ``func`` lacks."""
    accepted = accepted_options(func, leading)
    if accepted is None:
        return
    unknown = [k for k in options if k not in accepted]
    if unknown:
        listing = ", ".join(accepted) if accepted else "none"
        raise UnknownOptionError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for the {spec.name} {kind}; "
            f"accepted: {listing}"
        )
