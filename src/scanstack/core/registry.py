"""The format registry: find a format by name, extension or content; open and save.

Formats are discovered through the ``scanstack.formats`` entry-point group (scanstack's own formats
register there too, in ``pyproject.toml``), so the core never imports a format module. Each entry
point names a :class:`FormatSpec`. What sniffers see is :class:`~scanstack.core.probe.Probe`;
options are checked against signatures by :mod:`scanstack.core.signatures` (both names stay
importable from here).
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    FormatError,
    UnknownFormatError,
    UnsupportedError,
    decoder_error,
)
from .growing import Growing
from .probe import Probe, SnifferWarning
from .reader import Reader
from .signatures import _parameters, accepted_options, check_options, forwarding_signature
from .stack import ReaderStack, Stack

#: the option every reader that follows paths named inside files takes (see core.safety)
ALLOW_OUTSIDE = "allow_outside"


class Lazy:
    """A reader, writer or sniffer named ``"package.module:attr"``, imported when first used.

    Listing the formats then imports no heavy library (h5py, zarr …), while option checks still
    see the target's real signature (``__signature__``).
    """

    def __init__(self, target: str):
        self.target = target

    def resolve(self) -> Callable[..., Any]:
        import importlib

        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.resolve())

    def __repr__(self) -> str:
        return f"Lazy({self.target!r})"


@dataclass
class FormatSpec:
    """What a format is and can do.

    ``reader(source, **options)`` returns a :class:`~scanstack.core.reader.Reader` (or a
    :class:`Stack`); ``writer(stack, path, **options)`` writes block by block; ``sniff(probe)``
    returns a confidence between 0 (not this format) and 1 (certainly this format).
    """

    name: str
    description: str
    extensions: tuple[str, ...] = ()
    reader: Callable[..., Any] | None = None
    writer: Callable[..., Any] | None = None
    sniff: Callable[[Probe], float] | None = None
    #: free-form capabilities shown by ``scanstack formats`` (lazy, region reads, nav/signal dims…)
    capabilities: dict[str, Any] = field(default_factory=dict)
    #: URL schemes this format opens (``"merlin"`` for ``merlin://host:port``): such a source
    #: is routed by its scheme, never sniffed or looked up on disk
    schemes: tuple[str, ...] = ()

    @property
    def can_read(self) -> bool:
        return self.reader is not None

    @property
    def can_write(self) -> bool:
        return self.writer is not None


_registry: dict[str, FormatSpec] = {}
_loaded = False


def register(spec: FormatSpec) -> FormatSpec:
    """Register (or replace) a format at run time."""
    _registry[spec.name] = spec
    return spec


def _load_entry_points(name: str | None = None) -> None:
    """Load the plug-ins of the ``scanstack.formats`` group: all of them, or only those of the
    entry point ``name`` (opening a file whose format is named need not import every format)."""
    global _loaded
    if _loaded:
        return
    if name is None:
        _loaded = True
    from importlib.metadata import entry_points  # 0.05 s to import: only when a format is needed

    selection = {"group": "scanstack.formats"} | ({} if name is None else {"name": name})
    for ep in entry_points(**selection):
        if ep.name in _registry:
            continue
        try:
            spec = ep.load()
        except Exception as exc:  # a broken plug-in must not break every other format
            import warnings

            warnings.warn(
                f"scanstack: format plug-in {ep.name!r} failed to load: {exc}", stacklevel=2
            )
            continue
        _registry.setdefault(spec.name, spec)


def formats() -> dict[str, FormatSpec]:
    """Every known format by name (built-in and plug-ins)."""
    _load_entry_points()
    return dict(sorted(_registry.items()))


def get_format(name: str) -> FormatSpec:
    if name not in _registry:
        _load_entry_points(name)
    if name in _registry:
        return _registry[name]
    known = formats()  # a plug-in may register under another name than its entry point's
    if name not in known:
        raise UnknownFormatError(f"unknown format {name!r}; known formats: {', '.join(known)}")
    return known[name]


_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(source: Any) -> str | None:
    """The scheme of a ``scheme://...`` source string (lower case), or None for anything else.

    Windows drive paths (``C:\\...``) and plain paths have no ``://`` and are not URLs.
    """
    if isinstance(source, str):
        m = _URL.match(source)
        if m:
            return m.group(1).lower()
    return None


def format_for_scheme(scheme: str) -> str:
    """The name of the format that opens ``scheme://`` sources (:class:`UnknownFormatError`
    when none does)."""
    known = formats()
    for spec in known.values():
        if scheme in spec.schemes:
            return spec.name
    served = sorted({s for spec in known.values() for s in spec.schemes})
    raise UnknownFormatError(
        f"no format opens {scheme}:// sources"
        + (f" (URL schemes known: {', '.join(served)})" if served else "")
    )


def detect_format(source: Any, allow_outside: bool = False) -> str:
    """The name of the format that reads ``source`` best, by content sniffing and extension.

    A ``scheme://`` string goes to the format declaring that scheme (:attr:`FormatSpec.schemes`).
    An HDF5 file naming files outside its folder is refused before any sniffer looks at it
    (:class:`FormatError`), unless ``allow_outside``.
    """
    scheme = url_scheme(source)
    if scheme is not None:
        return format_for_scheme(scheme)
    probe = Probe(source, allow_outside)
    if probe.path is not None and not probe.path.exists():
        raise FileNotFoundError(f"{probe.path}: no such file or folder")
    scores: list[tuple[float, str]] = []
    try:
        probe.check_outside()  # before any sniffer follows a link
        for spec in formats().values():
            if not spec.can_read:
                continue
            score = 0.0
            if spec.sniff is not None:
                try:
                    score = float(spec.sniff(probe))
                except Exception as exc:
                    score = 0.0
                    # a decoding library failing on a damaged file just means "not this
                    # format"; an exception from the sniffer's own code is a bug: say so
                    if decoder_error(exc) is None:
                        warnings.warn(
                            f"{_where(source)}: the {spec.name!r} format's sniffer failed "
                            f"({type(exc).__name__}: {exc}); {spec.name!r} was not considered",
                            SnifferWarning,
                            stacklevel=2,
                        )
            elif probe.suffix and probe.suffix in spec.extensions:
                score = 0.3
            if score > 0:
                scores.append((score, spec.name))
    finally:
        probe.close()
    scores.sort(reverse=True)
    name = _where(source)
    if not scores:
        candidates = [
            s.name
            for s in formats().values()
            if s.can_read and probe.suffix and probe.suffix in s.extensions
        ]
        hint = f" (formats using {probe.suffix}: {', '.join(candidates)})" if candidates else ""
        raise UnknownFormatError(
            f"{name}: could not detect the format{hint}; pass format= one of "
            f"{', '.join(s.name for s in formats().values() if s.can_read)}"
        )
    if len(scores) > 1 and scores[0][0] == scores[1][0]:
        tied = [n for sc, n in scores if sc == scores[0][0]]
        raise UnknownFormatError(
            f"{name}: ambiguous format, candidates {', '.join(tied)}; pass format=..."
        )
    return scores[0][1]


def _where(source: Any) -> str:
    """How messages name a source: its path, or ``<in-memory input>``."""
    if isinstance(source, (str, os.PathLike)) and "\n" not in os.fspath(source):
        return os.fspath(source)
    return "<in-memory input>"


def _container_error(exc: BaseException, format: str, source: Any) -> FormatError | None:  # noqa: A002
    """What ``open()`` does with an exception a format's reader callable raised.

    One rule, :func:`~scanstack.core.errors.decoder_error` (the one ``Reader`` methods use too):
    an exception raised inside a decoding library (h5py failing to open the container, tifffile,
    zarr, zipfile …) becomes a :class:`FormatError` naming the file. Everything else, scanstack's
    own ``ValueError``, ``KeyError``, ``OSError`` … included, propagates unchanged: a reader
    raises ``FormatError`` itself for a bad file, and anything else is a bug to see, not to hide
    as "cannot be read". This covers reader callables that are plain functions (``open_mib``,
    plug-ins' factories), whose errors ``Reader.__init_subclass__`` does not see.
    """
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    return decoder_error(exc, where, f"a readable {format} file")


def open(source: Any = None, /, format: str | None = None, **options: Any) -> Stack:  # noqa: A001, A002
    """Open ``source`` (a path, bytes, or nothing for in-memory formats) as a lazy :class:`Stack`.

    ``format`` (positional or keyword) is auto-detected when omitted. Options are passed to the
    format's reader and checked against its signature first (:class:`UnknownOptionError` lists the
    accepted ones); see ``scanstack formats`` for what each format accepts.
    ``allow_outside=True`` (every format) lets paths named inside the file leave its folder;
    readers that never follow such paths do not receive it. The stack pickles by re-opening
    ``source`` through the registry with the same format and options.
    """
    allow_outside = bool(options.get(ALLOW_OUTSIDE, False))
    if format is None:
        if source is None:
            raise UnknownFormatError("open(None) needs a format (e.g. 'array' with data=...)")
        format = detect_format(source, allow_outside)
    spec = get_format(format)
    if spec.reader is None:
        raise UnsupportedError(f"format {format!r} cannot be read, only written")
    named = _parameters(spec.reader, 1)
    if ALLOW_OUTSIDE in options and named is not None and ALLOW_OUTSIDE not in named[0]:
        del options[ALLOW_OUTSIDE]  # only readers that name it explicitly follow inside paths
    if (
        isinstance(source, (str, os.PathLike))
        and "\n" not in os.fspath(source)
        and url_scheme(source) is None  # merlin://... is routed by its scheme, not a path
    ):
        if not Path(source).exists():
            raise FileNotFoundError(f"{os.fspath(source)}: no such file or folder")
    return _open_spec(spec, source, options)


def _open_spec(spec: FormatSpec, source: Any, options: dict) -> Stack:
    check_options(spec, "reader", spec.reader, 1, options)
    try:
        opened = spec.reader(source, **options)
    except Exception as exc:
        wrapped = _container_error(exc, spec.name, source)
        if wrapped is None:
            raise
        raise wrapped from exc
    stack = opened if isinstance(opened, Stack) else ReaderStack(opened)
    reader = getattr(stack, "reader", None)
    if isinstance(reader, Reader):  # what it pickles with (Reader.reopen_args)
        reader.opened_with = (spec.name, source, dict(options))
    return stack


def open_reader(format: str, source: Any, options: dict) -> Reader:  # noqa: A002
    """The :class:`Reader` under ``open(source, format, **options)`` (used to unpickle readers)."""
    stack = _open_spec(get_format(format), source, options)
    reader = getattr(stack, "reader", None)
    if not isinstance(reader, Reader):
        raise UnsupportedError(
            f"format {format!r} does not open to a Reader; it cannot re-open one"
        )
    return reader


def save(stack: Stack, path: Any, /, format: str | None = None, **options: Any) -> Any:  # noqa: A002
    """Write ``stack`` to ``path`` in ``format`` (positional or keyword; guessed from the
    extension when omitted). Options are checked against the writer's signature first.

    Every built-in writer takes ``client=``, ``threads=``, ``progress=`` and ``memory_budget=``
    (:mod:`scanstack.core.resources`); writers that write in order in this process refuse a
    ``client`` with :class:`UnsupportedError`.
    """
    if format is None:
        suffix = Path(os.fspath(path)).suffix.lower()
        matches = [s.name for s in formats().values() if s.can_write and suffix in s.extensions]
        if len(matches) != 1:
            raise UnknownFormatError(
                f"{os.fspath(path)}: cannot choose a writer from the extension {suffix!r}"
                + (f" (candidates: {', '.join(matches)})" if matches else "")
                + "; pass a format"
            )
        format = matches[0]
    spec = get_format(format)
    if spec.writer is None:
        raise UnsupportedError(f"format {format!r} cannot be written")
    if isinstance(stack, Growing) and not getattr(stack, "keeps_frames", True):
        # writers read in chunks, several at once, in no fixed order: a source that reuses the
        # memory of frames (a live ring) would lose frames under them
        raise UnsupportedError(
            f"{getattr(stack, 'source', stack)}: this live stack records nothing (spill=False) "
            "and keeps only its latest frames; to save it, open it with a spill (the default), "
            "which scanstack.save records while receiving"
        )
    check_options(spec, "writer", spec.writer, 2, options)
    return spec.writer(stack, path, **options)


__all__ = [
    "ALLOW_OUTSIDE",
    "FormatSpec",
    "Lazy",
    "Probe",
    "SnifferWarning",
    "accepted_options",
    "check_options",
    "detect_format",
    "format_for_scheme",
    "formats",
    "forwarding_signature",
    "get_format",
    "open",
    "open_reader",
    "register",
    "save",
    "url_scheme",
]
