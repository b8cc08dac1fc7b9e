"""hexrd's ``imageseries.save``: ``write(ims, fname, fmt, **kwargs)`` with scanstack's writers.

``'hdf5'`` and ``'frame-cache'`` take hexrd's keyword arguments (``path``, ``gzip``,
``chunk_rows``, ``shuffle``; ``threshold``, ``style``, ``cache_file``, ``max_workers`` (scanstack's
``threads``)); any
other scanstack format name works too. Writers write block by block to a temporary file and
rename it, and never overwrite an input. As in hexrd, an existing output file is replaced
(``overwrite=True`` is the default here, unlike ``scanstack.save``; pass ``overwrite=False`` to
refuse it).
"""

from __future__ import annotations

import abc
from typing import Any

from ..core.registry import save as ss_save
from ._stack import to_stack


class _Registry:
    """Writer classes by their ``fmt`` attribute."""

    writer_registry: dict[str, type] = {}

    @classmethod
    def register(cls, wcls: type) -> None:
        cls.writer_registry[wcls.fmt] = wcls

    @classmethod
    def getwriter(cls, name: str) -> type:
        return cls.writer_registry[name]


class _RegisterWriter(abc.ABCMeta):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        if "fmt" in attrs:
            _Registry.register(cls)


class Writer(metaclass=_RegisterWriter):
    """Writes an image series (or Stack, array, sequence of frames) with scanstack's writer."""

    def __init__(self, ims: Any, fname: Any, **kwargs: Any):
        self._ims = ims
        self._fname = fname
        self._opts = kwargs

    def write(self) -> Any:
        return ss_save(to_stack(self._ims), self._fname, self.fmt, **_hexrd_options(self._opts))


class WriteH5(Writer):
    """hexrd's ``hdf5``: dataset ``<path>/images``, metadata as group attributes."""

    fmt = "hdf5"


class WriteFrameCache(Writer):
    """hexrd's ``frame-cache`` (``style='npz'`` or ``'fch5'``): sparse frames above ``threshold``."""

    fmt = "frame-cache"

    def __init__(self, ims: Any, fname: Any, **kwargs: Any):
        if "max_workers" in kwargs:  # hexrd's name of the threads
            kwargs["threads"] = kwargs.pop("max_workers")
        super().__init__(ims, fname, **kwargs)


def write(ims: Any, fname: Any, fmt: str, **kwargs: Any) -> Any:
    """Write ``ims`` to ``fname`` as ``fmt`` (``'hdf5'``, ``'frame-cache'`` or any scanstack
    format that can be written)."""
    wcls = _Registry.writer_registry.get(fmt)
    if wcls is not None:
        return wcls(ims, fname, **kwargs).write()
    return ss_save(to_stack(ims), fname, fmt, **_hexrd_options(kwargs))


def _hexrd_options(options: dict[str, Any]) -> dict[str, Any]:
    """hexrd's writers replace an existing file: keep that here (``overwrite=True``)."""
    return {"overwrite": True, **options}
