"""``check_reader``: every promise a format reader makes, checked on one real input.

A reader promises (see :class:`scanstack.core.reader.Reader`): declared ``nav_shape``,
``signal_shape`` and ``dtype``; ``read(start, stop, region)`` returning exactly
``(stop - start, *region_shape)`` frames of the declared dtype; a region read equal to the crop of
the full read; ``read_frames`` and ``as_array`` agreeing with ``read``; pickling that re-opens the
same stack. The core adds clamping of ranges and regions and ``IndexError`` for frames out of
range, which a format's own :class:`~scanstack.core.stack.Stack` subclass must keep.

Only a few blocks are read (first, middle, last), so the check costs a few frames of I/O whatever
the file's size, plus one full read when the stack is small (``full_read_bytes``).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.reader import Reader, crop, normalize_region, region_shape
from ..core.registry import open as open_stack
from ..core.stack import Stack


class ContractError(AssertionError):
    """A reader broke its contract; the message lists every failed check."""


@dataclass
class ContractReport:
    """What :func:`check_reader` checked (every entry of ``checks`` passed)."""

    format: str
    nav_shape: tuple[int, ...]
    signal_shape: tuple[int, ...]
    dtype: np.dtype
    checks: list[str] = field(default_factory=list)


def check_reader(
    source: Any = None,
    /,
    format: str | None = None,  # noqa: A002 - the name scanstack.open uses
    *,
    expected: Any = None,
    full_read_bytes: int = 64 << 20,
    **options: Any,
) -> ContractReport:
    """Open ``source`` like ``scanstack.open(source, format, **options)`` and check the contract.

    ``source`` may also be a :class:`Stack` already opened (its reader is checked, and the stack
    is not closed). ``expected`` (array-like of the stack's full shape, nav then signal) is
    compared with the whole stack. Returns a :class:`ContractReport`; raises
    :class:`ContractError` (an ``AssertionError``) listing every failed check.

    Checks: declared shapes, dtype and axes; ``read`` shape and dtype for the first, a middle and
    the last block; consecutive reads agree frame by frame; ``read_frames`` on scattered frames;
    region reads (corners, interior, one pixel) equal crops of full reads; ``as_array`` agrees;
    writing into a returned block does not change later reads; reads from 4 threads agree;
    the stack clamps ranges and regions and raises ``IndexError`` for frames out of range and
    for bad regions; a pickled stack re-opens with the same shape, dtype and data;
    ``type(reader)(source, **reader.options)`` rebuilds the same reader (options kept); the full
    stack equals ``expected`` and the blocks of ``iter_blocks`` (when at most
    ``full_read_bytes``).
    """
    opened = not isinstance(source, Stack)
    stack = open_stack(source, format, **options) if opened else source
    try:
        return _Checker(stack, expected, full_read_bytes).run()
    finally:
        if opened:
            stack.close()


class _Checker:
    def __init__(self, stack: Stack, expected: Any, full_read_bytes: int):
        self.stack = stack
        reader = getattr(stack, "reader", None)
        if not isinstance(reader, Reader):
            raise ContractError(f"{type(stack).__name__} has no Reader to check (.reader)")
        self.reader: Reader = reader
        self.expected = expected
        self.full_read_bytes = full_read_bytes
        self.failures: list[str] = []
        self.report = ContractReport(
            format=reader.format_name,
            nav_shape=tuple(stack.nav_shape),
            signal_shape=tuple(stack.signal_shape),
            dtype=np.dtype(stack.dtype),
        )

    def run(self) -> ContractReport:
        self.check("declared shapes, dtype and axes", self.declared)
        if not self.failures:  # everything below relies on the declarations
            n = self.reader.nframes
            if n:
                self.check("read: shape and dtype of blocks", self.blocks)
                self.check("read: blocks agree frame by frame", self.frame_by_frame)
                self.check("read_frames: scattered frames", self.scattered)
                self.check("regions: equal to crops of full reads", self.regions)
                self.check("as_array agrees with read", self.as_array)
                self.check("blocks belong to the caller", self.owned)
                self.check("reads from several threads agree", self.threads)
                self.check("stack: ranges and regions are clamped", self.clamping)
            self.check("stack: IndexError for bad frames and regions", self.bad_ranges)
            self.check("pickling re-opens the same stack", self.pickling)
            self.check("the reader keeps its options", self.options_kept)
            if n and self.stack.nbytes <= self.full_read_bytes:
                self.check("full read equals iter_blocks (and expected)", self.full)
            elif self.expected is not None:
                self.fail("expected", f"stack of {self.stack.nbytes} bytes is too large")
        if self.failures:
            name = self.report.format or type(self.reader).__name__
            lines = "\n".join(f"- {f}" for f in self.failures)
            where = self.reader.path or "<in-memory input>"
            raise ContractError(f"the {name} reader breaks its contract on {where}:\n{lines}")
        return self.report

    # -- plumbing ----------------------------------------------------------------------------
    def check(self, name: str, func: Callable[[], None]) -> None:
        before = len(self.failures)
        try:
            func()
        except Exception as exc:  # a check that raises is a failure of that check, not the end
            self.fail(name, f"raised {type(exc).__name__}: {exc}")
        if len(self.failures) == before:
            self.report.checks.append(name)

    def fail(self, name: str, message: str) -> None:
        self.failures.append(f"{name}: {message}")

    def _blocks(self) -> list[tuple[int, int]]:
        """First, middle and last block of up to 3 frames each (distinct, in range)."""
        n = self.reader.nframes
        k = min(3, n)
        mid = max(0, (n - k) // 2)
        return sorted({(0, k), (mid, mid + k), (n - k, n), (n - 1, n)})

    def _read(self, start: int, stop: int, region=None) -> np.ndarray:
        return self.reader.read(start, stop, region)

    def _same(self, what: str, got: Any, want: np.ndarray) -> bool:
        got = np.asarray(got)
        if got.shape != want.shape:
            self.fail(what, f"shape {got.shape}, expected {want.shape}")
            return False
        if not np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"):
            bad = np.argwhere(got != want)
            first = tuple(int(i) for i in bad[0]) if len(bad) else "?"
            self.fail(what, f"values differ (first at index {first})")
            return False
        return True

    def _typed(self, what: str, block: Any, shape: tuple[int, ...]) -> bool:
        r = self.report
        if not isinstance(block, np.ndarray):
            self.fail(what, f"returned {type(block).__name__}, not a numpy array")
            return False
        if block.shape != shape:
            self.fail(what, f"returned shape {block.shape}, expected {shape}")
            return False
        if block.dtype != r.dtype:
            self.fail(what, f"returned dtype {block.dtype}, declared {r.dtype}")
            return False
        return True

    # -- the checks -------------------------------------------------------------------------
    def declared(self) -> None:
        rd, what = self.reader, "declared"
        for name in ("nav_shape", "signal_shape"):
            shape = getattr(rd, name)
            if not isinstance(shape, tuple) or not all(
                isinstance(v, (int, np.integer)) and v >= 0 for v in shape
            ):
                self.fail(what, f"{name} {shape!r} is not a tuple of non-negative integers")
        if not rd.signal_shape or 0 in tuple(rd.signal_shape):
            self.fail(what, f"signal_shape {rd.signal_shape!r} must have dimensions, none 0")
        if not isinstance(rd.dtype, np.dtype) or rd.dtype.kind not in "biufc":
            self.fail(what, f"dtype {rd.dtype!r} is not a numpy dtype of numbers")
        if rd.nframes != math.prod(rd.nav_shape):
            self.fail(what, f"nframes {rd.nframes} != prod(nav_shape {rd.nav_shape})")
        shape = (*rd.nav_shape, *rd.signal_shape)
        sizes = tuple(a.size for a in rd.axes)
        if sizes != tuple(shape):
            self.fail(what, f"axes sizes {sizes} differ from the shape {shape}")
        for name in ("metadata", "original_metadata"):
            if not isinstance(getattr(rd, name), dict):
                self.fail(what, f"{name} is {type(getattr(rd, name)).__name__}, not a dict")

    def blocks(self) -> None:
        sig = self.report.signal_shape
        for a, b in self._blocks():
            self._typed(f"read({a}, {b})", self._read(a, b), (b - a, *sig))

    def frame_by_frame(self) -> None:
        for a, b in self._blocks():
            block = self._read(a, b)
            for i in range(a, b):
                self._same(
                    f"read({a}, {b})[{i - a}] vs read({i}, {i + 1})",
                    block[i - a :][:1],
                    self._read(i, i + 1),
                )

    def scattered(self) -> None:
        n = self.reader.nframes
        frames = np.unique(np.array([n - 1, 0, n // 2, n - 1], np.int64))[::-1].copy()
        got = self.reader.read_frames(frames)
        want = np.concatenate([self._read(int(i), int(i) + 1) for i in frames])
        if self._typed(f"read_frames({frames.tolist()})", got, want.shape):
            self._same(f"read_frames({frames.tolist()})", got, want)

    def _sample_regions(self) -> list[tuple[slice, ...]]:
        sig = self.report.signal_shape
        first = tuple(slice(0, 1) for _ in sig)
        last = tuple(slice(s - 1, s) for s in sig)
        inner = tuple(slice(s // 3, max(s // 3 + 1, (2 * s) // 3)) for s in sig)
        # the first half of axis 0 only (whole rows): readers often special-case it
        rows = (slice(0, max(1, sig[0] // 2)), *(slice(0, s) for s in sig[1:]))
        tail = tuple(slice(s // 2, s) for s in sig)
        out = []
        for region in (first, last, inner, rows, tail):
            norm = normalize_region(region, sig)
            if norm is not None and norm not in out:
                out.append(norm)
        return out

    def regions(self) -> None:
        sig = self.report.signal_shape
        for a, b in self._blocks():
            full = self._read(a, b)
            for region in self._sample_regions():
                what = f"read({a}, {b}, region {_show(region)})"
                got = self._read(a, b, region)
                if self._typed(what, got, (b - a, *region_shape(region, sig))):
                    self._same(what, got, crop(full, region))

    def as_array(self) -> None:
        view = self.reader.as_array()
        if view is None:
            return
        shape = (self.reader.nframes, *self.report.signal_shape)
        if tuple(view.shape) != shape:
            self.fail("as_array", f"shape {tuple(view.shape)}, expected {shape}")
            return
        for a, b in self._blocks():
            self._same(f"as_array()[{a}:{b}]", np.asarray(view[a:b]), self._read(a, b))

    def owned(self) -> None:
        """Writing into a returned block must not change later reads (read-only is fine)."""
        for region in (None, *self._sample_regions()[:1]):
            block = self._read(0, 1, region)
            if not block.flags.writeable:
                continue
            before = block.copy()
            block[...] = 1 if block.dtype.kind == "b" else before.max() // 2 + 1
            self._same(
                f"read(0, 1, {_show(region)}) after writing into a block",
                self._read(0, 1, region),
                before,
            )

    def threads(self) -> None:
        """The core reads blocks of one reader from several threads (iter_blocks, blockwise)."""
        from concurrent.futures import ThreadPoolExecutor

        jobs = [
            (a, b, reg) for a, b in self._blocks() for reg in (None, *self._sample_regions()[:2])
        ]
        want = [self._read(*job) for job in jobs]
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda job: self._read(*job), jobs * 4))
        for k, block in enumerate(got):
            a, b, reg = jobs[k % len(jobs)]
            if not self._same(
                f"read({a}, {b}, {_show(reg)}) in 4 threads", block, want[k % len(jobs)]
            ):
                return

    def clamping(self) -> None:
        s, n, sig = self.stack, self.reader.nframes, self.report.signal_shape
        tail = s.read(n - 1, n + 5)
        self._same(f"stack.read({n - 1}, {n + 5})", tail, self._read(n - 1, n))
        over = tuple(slice(max(0, d - 2), d + 10) for d in sig)
        got = s.get_region(0, over)
        want = crop(self._read(0, 1), normalize_region(over, sig))[0]
        self._same(f"stack.get_region(0, {_show(over)})", got, want)

    def bad_ranges(self) -> None:
        s, n, sig = self.stack, self.reader.nframes, self.report.signal_shape
        cases: list[tuple[str, Callable[[], Any]]] = [
            (f"stack[{n}]", lambda: s[n]),
            (f"stack[{-n - 1}]", lambda: s[-n - 1]),
            (f"stack.read_frames([{n}])", lambda: s.read_frames([n])),
            (
                f"stack.get_region(0, <{len(sig) + 1} dims>)",
                lambda: s.get_region(0, (slice(0, 1),) * (len(sig) + 1)),
            ),
        ]
        if n:
            cases.append(
                ("stack.get_region(0, <step 2>)", lambda: s.get_region(0, (slice(0, 2, 2),)))
            )
        for what, call in cases:
            try:
                call()
            except IndexError:
                continue
            except Exception as exc:
                self.fail(what, f"raised {type(exc).__name__} ({exc}), expected IndexError")
            else:
                self.fail(what, "did not raise IndexError")

    def pickling(self) -> None:
        back = pickle.loads(pickle.dumps(self.stack))
        try:
            r = self.report
            got = (tuple(back.nav_shape), tuple(back.signal_shape), np.dtype(back.dtype))
            if got != (r.nav_shape, r.signal_shape, r.dtype):
                self.fail(
                    "unpickled",
                    f"nav, signal, dtype {got}, expected {(r.nav_shape, r.signal_shape, r.dtype)}",
                )
                return
            reader = getattr(back, "reader", None)
            if type(reader) is not type(self.reader):
                self.fail(
                    "unpickled",
                    f"reader {type(reader).__name__}, expected {type(self.reader).__name__}",
                )
                return
            if self.reader.opened_with is not None and reader.opened_with is None:
                self.fail("unpickled", "the re-opened reader forgot what it was opened with")
            regions = [None, *self._sample_regions()[:2]]
            for a, b in self._blocks() if self.reader.nframes else []:
                for region in regions:
                    what = f"unpickled read({a}, {b}, {_show(region)})"
                    self._same(what, reader.read(a, b, region), self._read(a, b, region))
        finally:
            back.close()

    def options_kept(self) -> None:
        """``type(reader)(source, **reader.options)`` must rebuild the same reader: what a
        reader built without the registry pickles by, and what a plug-in's own code re-opens."""
        r = self.reader
        source, options = r._picklable(r.source, dict(r.options))
        try:
            again = type(r)(source, **options)
        except Exception as exc:
            self.fail(
                "options kept",
                f"{type(r).__name__}(source, **reader.options) raised {type(exc).__name__}: "
                f"{exc} (options {options}); pass every option to super().__init__",
            )
            return
        try:
            what = f"{type(r).__name__}(source, **{options})"
            got = (tuple(again.nav_shape), tuple(again.signal_shape), np.dtype(again.dtype))
            want = (self.report.nav_shape, self.report.signal_shape, self.report.dtype)
            if got != want:
                self.fail("options kept", f"{what} gives {got}, the reader has {want}")
            elif r.nframes:
                self._same(f"options kept: {what}.read(0, 1)", again.read(0, 1), self._read(0, 1))
        finally:
            again.close()

    def full(self) -> None:
        s = self.stack
        whole = s.to_numpy()
        if not self._typed(
            "to_numpy()", whole.reshape(-1, *s.signal_shape), (self.reader.nframes, *s.signal_shape)
        ):
            return
        parts = [block for _, _, block in s.iter_blocks(frames_per_block=max(1, s.nframes // 3))]
        self._same("iter_blocks", np.concatenate(parts), whole.reshape(-1, *s.signal_shape))
        if self.expected is not None:
            self._same("expected", whole, np.asarray(self.expected).reshape(s.shape))


def _show(region) -> str:
    if region is None:
        return "whole frame"
    return "[" + ", ".join(f"{r.start}:{r.stop}" for r in region) + "]"


__all__ = ["ContractError", "ContractReport", "check_reader"]
