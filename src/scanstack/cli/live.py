"""``scanstack live`` — a virtual bright-field / ADF / sum-pattern picture that fills in as the
scan is recorded.

Examples::

    scanstack live scan.mib --nav 256x256 --bf r=30 -o live.png        # a .mib being written
    scanstack live scan.mib --bf r=30 --adf 40,80 --every-frames 4096 -o live.png
    scanstack live merlin://HOST:6342 --nav 256x256 --bf r=30 -o live.png   # a stream source
    scanstack live merlin://HOST:6342 --nav 256x256 --bf r=30 -o live.png --no-record

A ``.mib`` is followed (``follow=True``): frames are read as they land, a partial last frame is
never read. A stream is recorded into a spill ``.mib`` (``-i spill=scan.mib``; default a new
temporary folder, printed at the end); ``--no-record`` records nothing and holds the frames in
a ring of memory instead (faster when the disk is the limit). The PNG is replaced atomically
every ``--every-frames`` frames or ``--every-seconds`` seconds, and written once more at the end.
"""

from __future__ import annotations

import argparse
import sys

from ..core import errors
from .options import add_overwrite, parse_options


def parse_nav(text: str) -> tuple[int, ...]:
    """``"256x256"`` -> ``(256, 256)`` (rows x columns); ``"1000"`` -> ``(1000,)``."""
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(v <= 0 for v in shape):
        raise errors.UnsupportedError(f"--nav wants ROWSxCOLUMNS, e.g. 256x256, not {text!r}")
    return shape


def _numbers(text: str, keys: tuple[str, ...], what: str) -> list[float]:
    """``"r=30"``, ``"30"``, ``"inner=40,outer=80"`` or ``"40,80"`` -> the values in ``keys`` order."""
    parts = [p for p in text.split(",") if p]
    try:
        if all("=" in p for p in parts):
            given = dict(p.split("=", 1) for p in parts)
            unknown = set(given) - set(keys)
            if unknown or len(given) != len(keys):
                raise ValueError
            return [float(given[k]) for k in keys]
        if len(parts) != len(keys):
            raise ValueError
        return [float(p) for p in parts]
    except ValueError:
        form = ",".join(f"{k}=N" for k in keys)
        raise errors.UnsupportedError(f"{what} wants {form}, not {text!r}") from None


def _open_source(args, nav: tuple[int, ...] | None):
    import scanstack

    options = parse_options(args.in_option)
    if nav:
        options["nav_shape"] = nav
    source = args.input
    stream = "://" in str(source)  # merlin://HOST:PORT: received into a spill as it arrives
    if str(source).lower().endswith(".mib"):
        options.setdefault("follow", True)
    if args.no_record:
        if not stream:
            raise errors.UnsupportedError("--no-record is for stream sources (merlin://HOST:PORT)")
        options["spill"] = False
    if (stream or options.get("follow")) and args.timeout is not None:
        options.setdefault("timeout", args.timeout)
    return scanstack.open(source, **options)


def cmd_live(args) -> int:
    from ..core.safety import check_output
    from ..live.follow import LivePicture, detector_masks

    bf = _numbers(args.bf, ("r",), "--bf")[0] if args.bf else None
    adf = tuple(_numbers(args.adf, ("inner", "outer"), "--adf")) if args.adf else None
    center = _numbers(args.center, ("row", "col"), "--center") if args.center else None
    nav = parse_nav(args.nav) if args.nav else None
    check_output(args.output, args.overwrite)  # before waiting for a scan, not after it
    with _open_source(args, nav) as stack:
        masks = detector_masks(stack.signal_shape, bf=bf, adf=adf, center=center)
        if not masks and args.no_sum:
            raise errors.UnsupportedError(
                "nothing to draw: give --bf and/or --adf, or drop --no-sum"
            )
        picture = LivePicture(stack, masks, sum_pattern=not args.no_sum)

        def report(done: int, total: int) -> None:
            if not args.quiet:
                print(f"\r{args.output}: {done}/{total} frames", end="", file=sys.stderr)

        try:
            writes = picture.run(
                args.output,
                every_frames=args.every_frames,
                every_seconds=args.every_seconds,
                timeout=args.timeout,
                on_write=report,
                overwrite=args.overwrite,
            )
        finally:
            if not args.quiet:
                print(file=sys.stderr)
    print(f"wrote {args.output} ({picture.done} frames, {writes} refreshes)")
    spill = getattr(stack, "spill_path", None)
    if spill is not None:
        print(f"recorded: {spill} (+ .hdr)")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``live`` to the main CLI's subparsers."""
    p = subparsers.add_parser(
        "live",
        help="a virtual BF/ADF/sum-pattern picture refreshed while the scan is recorded",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="a .mib being written (followed), a stream URL, or any file")
    p.add_argument("--output", "-o", required=True, help="PNG to keep refreshing")
    p.add_argument("--nav", metavar="ROWSxCOLS", help="scan shape (default: from the .hdr)")
    p.add_argument("--bf", metavar="r=R", help="virtual bright field: disk of radius R px")
    p.add_argument("--adf", metavar="inner=A,outer=B", help="virtual annular dark field ring (px)")
    p.add_argument(
        "--center", metavar="row=Y,col=X", help="detector centre (default: frame centre)"
    )
    p.add_argument("--no-sum", action="store_true", help="no sum-pattern panel")
    p.add_argument(
        "--no-record",
        action="store_true",
        help="streams: record nothing, hold the frames in a ring of memory (-i spill=False)",
    )
    p.add_argument(
        "--every-frames", type=int, default=None, metavar="N", help="refresh every N frames"
    )
    p.add_argument(
        "--every-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="refresh at least every S seconds (default %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up when no frame arrives for S seconds (default: the source's, 10 s for .mib)",
    )
    p.add_argument(
        "--in-option", "-i", action="append", metavar="KEY=VALUE", help="reader option, repeatable"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    add_overwrite(p)
    p.set_defaults(func=cmd_live)
    return p
