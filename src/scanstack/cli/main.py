"""``scanstack`` — inspect, convert, reduce and preview scan data from the command line.

Examples::

    scanstack formats
    scanstack info scan.mib
    scanstack convert scan.mib scan.zarr --format zarr
    scanstack convert ge.h5 ge.npz --in-option path=/imageseries --format frame-cache -O threshold=20
    scanstack convert raw.h5 clean.h5 --format hdf5 --op dark=dark.npy --op flip=v -O path=images
    scanstack stats ge.npz --stat median -o median.tif
    scanstack preview crono.HDF5 -o crono.png
    scanstack live scan.mib --nav 256x256 --bf r=30 -o live.png
    scanstack demo --output demo-output
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..core import config, errors
from ..core.metadata import to_jsonable
from .options import add_output, add_overwrite, parse_bytes, parse_ops, parse_options
from .running import run_command

STATS = ("max", "min", "sum", "mean", "average", "median", "percentile")


def _open(args):
    import scanstack

    options = parse_options(getattr(args, "in_option", None))
    if getattr(args, "allow_outside", False):
        options["allow_outside"] = True
    return scanstack.open(args.input, getattr(args, "in_format", None), **options)


def _client(args, cleanup: contextlib.ExitStack):
    """The dask.distributed client of ``--scheduler`` (closed by ``cleanup``), or None."""
    if not args.scheduler:
        return None
    from distributed import Client

    return cleanup.enter_context(Client(args.scheduler))


# -- commands --------------------------------------------------------------------------------
def cmd_formats(args) -> int:
    import scanstack

    specs = scanstack.formats()
    # fallbacks (capabilities "fallback": RosettaSciIO) read what no native format reads: listed
    # last, with only the extensions they add, so they never look like a native reader
    native = {n: s for n, s in specs.items() if not s.capabilities.get("fallback")}
    fallback = {n: s for n, s in specs.items() if s.capabilities.get("fallback")}
    rows = []
    for name, spec in native.items():
        mode = ("r" if spec.can_read else "-") + ("w" if spec.can_write else "-")
        rows.append((name, mode, " ".join(spec.extensions), spec.description))
    width = max(len(r[0]) for r in rows)
    ext_w = max(len(r[2]) for r in rows)
    print(f"{'format':<{width}}  r/w  {'extensions':<{ext_w}}  description")
    for name, mode, ext, desc in rows:
        print(f"{name:<{width}}  {mode:<3}  {ext:<{ext_w}}  {desc}")
        if args.verbose:
            for key, value in specs[name].capabilities.items():
                print(f"{'':<{width}}       {key}: {value}")
    claimed = {e for s in native.values() if s.can_read for e in s.extensions}
    for name, spec in fallback.items():
        added = [e for e in spec.extensions if e not in claimed]
        print(f"\nfallback, used when no format above reads the file: {name}: {spec.description}")
        print(f"  extensions: {' '.join(added) if added else '(none: package not installed)'}")
        if args.verbose:
            for key, value in spec.capabilities.items():
                print(f"  {key}: {value}")
    return 0


def _summarise(value, depth: int = 0, max_depth: int = 2) -> str:
    if isinstance(value, dict):
        if depth >= max_depth:
            return (
                "{" + ", ".join(list(map(str, value))[:8]) + (", …" if len(value) > 8 else "") + "}"
            )
        pad = "  " * (depth + 1)
        return "".join(
            f"\n{pad}{k}: {_summarise(v, depth + 1, max_depth)}" for k, v in value.items()
        )
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=", ")
        return f"array {value.shape} {value.dtype}"
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def cmd_info(args) -> int:
    with _open(args) as stack:
        if args.json:
            out = {
                "format": getattr(stack, "format", None),
                "nav_shape": stack.nav_shape,
                "signal_shape": stack.signal_shape,
                "dtype": np.dtype(stack.dtype).name,
                "axes": [to_jsonable(a.to_dict()) for a in stack.axes],
                "metadata": to_jsonable(stack.metadata),
            }
            print(json.dumps(out, indent=2))
            return 0
        print(f"file:        {args.input}")
        print(f"format:      {getattr(stack, 'format', '?')}")
        print(f"navigation:  {stack.nav_shape}  ({stack.nframes} frames)")
        print(f"signal:      {stack.signal_shape}")
        print(f"dtype:       {np.dtype(stack.dtype).name}")
        print(f"size:        {stack.nbytes / 1e6:,.1f} MB")
        print("axes:")
        for axis in stack.axes:
            kind = "nav" if axis.navigate else "sig"
            if axis.is_uniform:
                coords = f"offset {axis.offset:g}, scale {axis.scale:g}"
            else:
                c = axis.coordinates
                coords = f"values {c[0]:g} … {c[-1]:g}" if c.size else "values (none)"
            print(f"  {kind} {axis.name:<12} {axis.size:>7}  {axis.units or '-':<6} {coords}")
        if stack.metadata:
            print("metadata:" + _summarise(stack.metadata, 0, args.depth))
    return 0


def cmd_convert(args) -> int:
    import scanstack

    from ..core.safety import check_not_input

    stack = _open(args)
    with stack:
        ops = parse_ops(args.op)
        if ops or args.frames:
            from ..process import process

            frame_list = None
            if args.frames:
                a, _, b = args.frames.partition(":")
                frame_list = range(int(a or 0), int(b) if b else stack.nframes)
            stack = process(stack, ops, frame_list=frame_list)
        check_not_input(args.output, stack.source_paths())
        options = parse_options(args.option)
        options.setdefault("overwrite", args.overwrite)
        if args.compression is not None:
            options["compression"] = None if args.compression == "none" else args.compression
        with contextlib.ExitStack() as cleanup:
            client = _client(args, cleanup)
            if client is not None:  # writers without cluster support say so (UnsupportedError)
                options["client"] = client
            scanstack.save(stack, args.output, args.format, progress=not args.quiet, **options)
    print(f"wrote {args.output}")
    return 0


def _write_image(array: np.ndarray, path: str, sources, overwrite: bool = False) -> None:
    from ..core.safety import atomic_path

    suffix = Path(path).suffix.lower()
    with atomic_path(path, overwrite=overwrite, inputs=sources) as tmp:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, array)
        elif suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, array)
        elif suffix == ".png":
            from ..preview import render

            render.array_png(array, tmp)
        else:
            raise errors.WriteError(f"{path}: write .tif, .npy or .png")


def cmd_stats(args) -> int:
    from .. import stats
    from ..core.safety import check_output

    check_output(args.output, args.overwrite)  # before the work, not after it

    with contextlib.ExitStack() as cleanup:
        client = _client(args, cleanup)
        stack = cleanup.enter_context(_open(args))
        func = getattr(stats, "average" if args.stat == "mean" else args.stat)
        kwargs = {"nframes": args.nframes, "progress": not args.quiet, "client": client}
        if args.stat == "percentile":
            result = func(stack, args.pctl, **kwargs)
        else:
            result = func(stack, **kwargs)
        _write_image(np.asarray(result), args.output, stack.source_paths(), args.overwrite)
    print(
        f"wrote {args.output} ({args.stat}, shape {np.shape(result)}, {np.asarray(result).dtype})"
    )
    return 0


def cmd_preview(args) -> int:
    from ..core.safety import check_output
    from ..preview import save_preview

    check_output(args.output, args.overwrite)
    with _open(args) as stack:
        save_preview(stack, args.output, progress=not args.quiet, overwrite=args.overwrite)
    print(f"wrote {args.output}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.output), quiet=args.quiet, overwrite=args.overwrite)


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scanstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"scanstack {__version__}")
    parser.add_argument(
        "--memory-budget",
        type=parse_bytes,
        default=None,
        metavar="BYTES",
        help="cap on working memory, e.g. 512M or 2G (default %(default)s: 1G)",
    )
    parser.add_argument("--threads", type=int, default=None, help="worker threads (default: cores)")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks, warnings with their source lines and library log messages",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_input(p):
        p.add_argument("input", help="file to read (format auto-detected)")
        p.add_argument("--in-format", "-f", help="format of the input (see `scanstack formats`)")
        p.add_argument(
            "--in-option",
            "-i",
            action="append",
            metavar="KEY=VALUE",
            help="reader option, repeatable (e.g. path=/imageseries)",
        )
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
        p.add_argument(
            "--allow-outside",
            action="store_true",
            help="follow paths named inside the file that leave its folder (HDF5 links, "
            "virtual and external datasets, OME-TIFF planes, zarr symlinks, YAML file lists)",
        )

    p = sub.add_parser("formats", help="list the formats and what each can do")
    p.add_argument("--verbose", "-v", action="store_true", help="show each format's capabilities")
    p.set_defaults(func=cmd_formats)

    p = sub.add_parser("info", help="format, shapes, dtype, axes and key metadata of a file")
    add_input(p)
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.add_argument("--depth", type=int, default=2, help="metadata levels shown (default 2)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "convert",
        help="convert a file to another format (atomic, never overwrites the input)",
        description="Convert IN to OUT block by block; optional processing ops are applied lazily.",
        epilog="ops: dark=FILE.npy, flat=FILE.npy, flip=v|h|vh|t|ccw90|cw90, rectangle=r0,r1,c0,c1, "
        "bin=2, threshold=10, add=1.5, gauss_laplace=2, add-row=N, add-column=N, mask=FILE.npy",
    )
    add_input(p)
    p.add_argument("output", help="file to write")
    p.add_argument("--format", "-F", help="output format (default: from the extension)")
    p.add_argument(
        "--option",
        "-O",
        action="append",
        metavar="KEY=VALUE",
        help="writer option, repeatable (e.g. threshold=20, path=images)",
    )
    p.add_argument(
        "--op", action="append", metavar="NAME[=VALUE]", help="processing op, repeatable"
    )
    p.add_argument("--frames", metavar="START:STOP", help="only these frames")
    p.add_argument("--compression", help="compression of the output (format-specific; none)")
    p.add_argument(
        "--scheduler",
        help="dask.distributed scheduler address: zarr/nexus/usid/nsid chunks done on the cluster",
    )
    add_overwrite(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser(
        "stats", help="a statistic over all frames (out of core), saved as TIFF/NPY/PNG"
    )
    add_input(p)
    p.add_argument("--stat", "-s", choices=STATS, default="median")
    p.add_argument("--pctl", type=float, default=50.0, help="percentile for --stat percentile")
    p.add_argument("--nframes", type=int, default=0, help="use only the first N frames (0: all)")
    p.add_argument("--scheduler", help="dask.distributed scheduler address to run on a cluster")
    add_output(p, "output .tif, .npy or .png")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "preview", help="a PNG picture: sum frame / sum spectrum, maps, virtual images"
    )
    add_input(p)
    add_output(p, "output .png")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("demo", help="write a small sample dataset and run the main jobs on it")
    add_output(p, "folder for the outputs", "demo-output")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_demo)

    from . import live as live_cli
    from . import simulate as simulate_cli

    simulate_cli.add_parser(sub)
    live_cli.add_parser(sub)

    try:
        from . import crono as crono_cli
    except ImportError:  # the CRONO tools are optional at import time
        crono_cli = None
    if crono_cli is not None:
        crono_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (:func:`~.running.run_command`: 0 done, 2 an
    error in the input or the options, 3 a bug, 130 interrupted, 143 terminated)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.memory_budget:
        config.memory_budget = args.memory_budget
    if args.threads:
        config.num_threads = args.threads
    return run_command(lambda: args.func(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
