"""Every file RosettaSciIO reads and scanstack does not: a fallback through RosettaSciIO's own
lazy readers (Gatan DM3/DM4, Velox/EMD, blockfile, Bruker BCF, MRC, TVIPS, EMPAD, TIA, HSPY/ZSPY, ...).

Detection is by extension and comes last: the sniffer scores an extension RosettaSciIO lists
at :data:`FALLBACK_SCORE` (below every native reader's score), and not at all when one of
scanstack's own formats declares that extension, so a native reader always wins where both
exist. The file is opened with the plugin's ``file_reader(path, lazy=True)``: its dask array is
reordered to navigation axes then signal axes (RosettaSciIO's ``navigate`` flags) and read block
by block through :class:`~scanstack.core.memory.ArrayReader`; axes keep names, units,
scale/offset; ``metadata`` and ``original_metadata`` are RosettaSciIO's trees. Where several
plugins share an extension (``.mrc``: MRC and MRCZ) they are tried in RosettaSciIO's order
and the first that reads the file is used (``plugin=`` chooses one by name). A file whose axes
RosettaSciIO flags all as signal and that has more than two is read as 2-D frames over the
leading axes. A plugin with no lazy reader (MSA, DigitalSurf), or whose lazy reader would read
this file wrong (Panta Rhei's on a deflated .prz), reads the whole file at open, and only if its
size fits the memory budget.

Needs the optional extra ``scanstack[rsciio]``; without it the format is listed but reads
nothing and detection passes over it.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.errors import FormatError, MemoryBudgetError, UnsupportedError, check_fits
from ..core.h5safety import open_h5_inside
from ..core.memory import ArrayReader
from ..core.registry import FormatSpec, Probe, formats
from ..core.safety import OUTSIDE_HINT, is_inside

#: the sniffer's score for an extension RosettaSciIO reads: a fallback, below any native reader
FALLBACK_SCORE = 0.05
NAME = "rsciio"


@cache
def plugins() -> tuple[dict[str, Any], ...]:
    """RosettaSciIO's plugin specifications (name, file_extensions, api), or () if absent."""
    try:
        import rsciio
    except ImportError:
        return ()
    return tuple(p for p in rsciio.IO_PLUGINS if p.get("api"))


@cache  # from plugins(), itself cached: asked by every probe
def rsciio_extensions() -> tuple[str, ...]:
    """Every extension a RosettaSciIO plugin reads (lower case, with the dot), sorted."""
    return tuple(sorted({"." + e.lower() for p in plugins() for e in p["file_extensions"]}))


def native_extensions() -> set[str]:
    """Extensions that one of scanstack's own readers declares (they are never claimed here)."""
    return {e for s in formats().values() if s.name != NAME and s.can_read for e in s.extensions}


def _candidates(suffix: str, plugin: str | None) -> list[dict[str, Any]]:
    if plugin is not None:
        chosen = [p for p in plugins() if p["name"].lower() == plugin.lower()]
        if not chosen:
            names = ", ".join(p["name"] for p in plugins())
            raise UnsupportedError(f"no RosettaSciIO plugin named {plugin!r}; plugins: {names}")
        return chosen
    ext = suffix.lower().lstrip(".")
    return [p for p in plugins() if ext in {e.lower() for e in p["file_extensions"]}]


def _sniff(probe: Probe) -> float:
    # files, and directory stores (HyperSpy's .zspy)
    if probe.path is None or not probe.suffix or not probe.path.exists():
        return 0.0
    if probe.suffix not in rsciio_extensions() or probe.suffix in native_extensions():
        return 0.0
    return FALLBACK_SCORE


def _read_signals(path: str, plugin: str | None) -> tuple[list[dict[str, Any]], str]:
    """``file_reader(path, lazy=True)`` of the first candidate plugin that reads the file."""
    candidates = _candidates(os.path.splitext(path)[1], plugin)
    if not candidates:
        raise UnsupportedError(f"{path}: no RosettaSciIO plugin reads this extension")
    failures = []
    for spec in candidates:
        try:
            module = importlib.import_module(spec["api"])
            try:
                if _lazy_reads_wrong(spec["name"], path):
                    raise NotImplementedError
                return module.file_reader(path, lazy=True), spec["name"]
            except NotImplementedError:
                # a plugin without a lazy reader (MSA, DigitalSurf) reads the whole file: allowed
                # only when the file itself fits the memory budget (its size, not a header's claim)
                check_fits(os.path.getsize(path), f"{spec['name']} reads whole files", path)
                return module.file_reader(path, lazy=False), spec["name"]
        except MemoryBudgetError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next plugin for the extension may read it
            failures.append(f"{spec['name']}: {type(exc).__name__}: {exc}")
    raise FormatError("no RosettaSciIO plugin could read it (" + "; ".join(failures) + ")", path)


def check_inside(path: str) -> None:
    """Refuse an input through which RosettaSciIO would read outside the input's folder: an HDF5
    file (hspy, EMD, ...) whose external links, virtual-dataset sources or external storage
    leave it (the walk every HDF5 reader of scanstack does), or a directory store (.zspy) holding
    a symlink out of the store. The other plugins' files name no other file outside their
    folder."""
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                entry = os.path.join(root, name)
                if os.path.islink(entry) and not is_inside(entry, path):
                    raise FormatError(
                        f"{os.path.relpath(entry, path)} is a symlink out of the store, to "
                        f"{os.path.realpath(entry)}; {OUTSIDE_HINT}",
                        path,
                    )
        return
    with open(path, "rb") as f:
        if f.read(8) != b"\x89HDF\r\n\x1a\n":
            return
    open_h5_inside(path).close()


def _lazy_reads_wrong(plugin: str, path: str) -> bool:
    """RosettaSciIO 0.15's lazy Panta Rhei reader memory-maps ``data.npy`` inside the .prz zip
    as if it were stored, but its own writer deflates it: the lazy array is compressed bytes
    read as pixels (tested). Such a file is read whole instead."""
    if plugin != "PantaRhei":
        return False
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return zf.getinfo("data.npy").compress_type != zipfile.ZIP_STORED
    except (OSError, KeyError, zipfile.BadZipFile):
        return False  # the plugin itself reports what is wrong


def _axis(d: dict[str, Any], navigate: bool) -> Axis:
    values = d.get("axis")
    name = str(d.get("name") or "").strip() or ("nav" if navigate else "signal")
    units = str(d.get("units") or "").strip()
    units = "" if units in ("<undefined>", "t.b.d.") else units
    if values is not None and d.get("scale") is None:  # a non-uniform axis
        return Axis(
            name, int(d["size"]), units, values=np.asarray(values, float), navigate=navigate
        )
    return Axis(
        name,
        int(d["size"]),
        units,
        scale=float(d.get("scale", 1.0) or 1.0),
        offset=float(d.get("offset", 0.0) or 0.0),
        navigate=navigate,
    )


class RsciioReader(ArrayReader):
    """A file read by a RosettaSciIO plugin, lazily (its dask array), as a scanstack stack.

    Options: ``signal`` (which of the file's signals, default 0), ``plugin`` (a RosettaSciIO
    plugin name, default: by extension), ``allow_outside`` (see :func:`check_inside`).
    """

    format_name = NAME

    def __init__(
        self,
        source,
        *,
        signal: int = 0,
        plugin: str | None = None,
        allow_outside: bool = False,
    ):
        if not plugins():
            raise UnsupportedError(
                "reading this format needs RosettaSciIO: pip install 'scanstack[rsciio]'"
            )
        path = os.fspath(source)
        if not allow_outside:
            check_inside(path)
        signals, used = _read_signals(path, plugin)
        if not 0 <= signal < len(signals):
            raise FormatError(
                f"signal {signal} asked, the file holds {len(signals)}", path, "signal"
            )
        d = signals[signal]
        data = d["data"]
        axes = sorted(d.get("axes") or [], key=lambda a: a.get("index_in_array", 0))
        if len(axes) != data.ndim:  # a plugin without axes: all signal (one frame)
            axes = [{"size": n, "navigate": False} for n in data.shape]
        nav = [i for i, a in enumerate(axes) if a.get("navigate")]
        sig = [i for i, a in enumerate(axes) if not a.get("navigate")]
        if not sig:  # every axis navigates (a point series): the last one becomes the signal
            sig, nav = nav[-1:], nav[:-1]
        elif not nav and len(sig) > 2:
            # nothing navigates (RosettaSciIO's EMD-NCEM and Semper readers flag no axis, so
            # HyperSpy loads a BaseSignal): frames are the last two axes, as HyperSpy's
            # as_signal2D would make them, so the stack has frames to fold over
            nav, sig = sig[:-2], sig[-2:]
        order = nav + sig
        if order != list(range(data.ndim)):
            data = data.transpose(order)
        super().__init__(
            source,
            data=data,
            signal_ndim=len(sig),
            metadata={"title": _title(d), "original_file": os.path.basename(path)},
            axes=[_axis(axes[i], i in nav) for i in order],
            original_metadata={
                "rsciio_plugin": used,
                "metadata": d.get("metadata") or {},
                "original_metadata": d.get("original_metadata") or {},
            },
        )
        # pickling re-opens the path with these
        self.options = {"signal": signal, "plugin": plugin, "allow_outside": allow_outside}
        self.plugin = used


def _title(d: dict[str, Any]) -> str:
    general = (d.get("metadata") or {}).get("General") or {}
    return str(general.get("title") or general.get("original_filename") or "")


FORMAT = FormatSpec(
    name=NAME,
    description="fallback: any other file RosettaSciIO reads (DM3/DM4, EMD, BLO, BCF, MRC, "
    "TVIPS, EMPAD, ...), lazily; needs scanstack[rsciio]; options signal=, plugin=, allow_outside=",
    extensions=rsciio_extensions(),
    reader=RsciioReader,
    sniff=_sniff,
    capabilities={"lazy": True, "region": True, "fallback": True, "via": "RosettaSciIO"},
)
