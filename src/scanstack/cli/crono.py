"""``scanstack crono`` — the CRONO scanner's camera frames from the command line.

Examples::

    scanstack crono frames scan.HDF5 -o frames/          # every JPEG + frames.csv (time, position)
    scanstack crono mosaic scan.HDF5 -o mosaic.png --resolution 50
    scanstack crono overlay scan.HDF5 --elements Pb,Fe,Cu -o overlay.png
    scanstack crono summary scan.HDF5                   # why ~3x more frames than spectra
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core import errors
from .options import add_output


def _camera(args, reader):
    from ..crono import CameraModel

    px = reader.pixel_size_um
    cam = CameraModel(reader.full_shape, px) if px else CameraModel(reader.full_shape)
    from dataclasses import replace

    if getattr(args, "flip_x", False):
        cam = replace(cam, x_sign=-cam.x_sign)
    if getattr(args, "flip_y", False):
        cam = replace(cam, y_sign=-cam.y_sign)
    if getattr(args, "spot", None):
        try:
            col, row = (float(v) for v in args.spot.split(","))
        except ValueError as exc:
            raise errors.UnsupportedError(
                f"--spot wants COL,ROW in pixels, got {args.spot!r}"
            ) from exc
        cam = cam.with_spot(col, row)
    return cam


def _frame_range(text: str | None, n: int) -> tuple[int, int]:
    if not text:
        return 0, n
    try:
        a, b = text.split(":")
        start, stop, _ = slice(int(a) if a else None, int(b) if b else None).indices(n)
    except ValueError as exc:
        raise errors.UnsupportedError(f"--frames wants START:STOP, got {text!r}") from exc
    return start, stop


def _report_empty(path, stamps) -> None:
    import numpy as np

    empty = np.flatnonzero(np.asarray(stamps) < 0)
    if empty.size:
        print(
            f"scanstack: warning: {path}: {empty.size} empty image slot(s) skipped "
            f"(frames {', '.join(map(str, empty[:5]))}{' ...' if empty.size > 5 else ''})",
            file=sys.stderr,
        )


def cmd_frames(args) -> int:
    """Write every frame's JPEG (the original bytes, not re-encoded) and ``frames.csv``."""
    from ..core.progress import Progress
    from ..core.safety import atomic_path, check_output, clean_leftovers
    from ..crono import ScanTrack, open_frames, place_frames

    out = Path(args.output)
    progress = not args.quiet
    check_output(out, True, folder=True)  # a file where the folder goes
    if not args.overwrite and out.is_dir():
        taken = (out / "frames.csv").exists() or next(out.glob("frame_*.jpg"), None)
        if taken:
            raise errors.WriteError(
                f"{out}: already holds camera frames; pass --overwrite to replace them"
            )
    # an empty slot is skipped (phase "empty" in the CSV), not a reason to lose every other frame
    with open_frames(args.input, on_empty="zeros") as stack:
        reader = stack.reader
        start, stop = _frame_range(args.frames, reader.nframes)
        out.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out / "frame", match=r"frame_\d+\.jpg")  # once, not once per frame
        stamps = reader.stamps(progress=progress)
        _report_empty(args.input, stamps)
        with Progress(stop - start, progress, "write", "frames") as bar:
            for a, jpegs in reader.iter_jpegs(start, stop):
                for k, data in enumerate(jpegs):
                    i = a + k
                    if data is None:
                        continue
                    target = out / f"frame_{i:06d}.jpg"
                    with atomic_path(target, True, [args.input], clean=False) as tmp:
                        tmp.write_bytes(data)
                bar.update(len(jpegs))
        try:
            track = ScanTrack.from_file(args.input)
        except errors.FormatError as exc:
            print(f"scanstack: warning: frames not placed: {exc}", file=sys.stderr)
            track = None
        if track is not None:
            placement = place_frames(stamps, track)
            placement.write_csv(out / "frames.csv", reader.first_slot, overwrite=True)
            summary = placement.summary()
            print(
                f"{stop - start} frames written to {out}/ ; frames.csv has their times and "
                f"positions"
            )
            print(summary["explanation"])
        else:
            with atomic_path(out / "frames.csv", overwrite=True) as tmp, open(tmp, "w") as fh:
                fh.write("frame,slot,stamp_us\n")
                for i in range(reader.nframes):
                    fh.write(f"{i},{i + reader.first_slot},{int(stamps[i])}\n")
            print(f"{stop - start} frames written to {out}/ ; frames.csv has their EXIF stamps")
    return 0


def _build_mosaic(args):
    """The registered mosaic the ``mosaic`` and ``overlay`` commands draw (options shared)."""
    import numpy as np

    from ..crono import ScanTrack, build_mosaic, estimate_camera, open_frames, place_frames

    progress = not args.quiet
    with open_frames(args.input, on_empty="zeros") as stack:
        reader = stack.reader
        track = ScanTrack.from_file(args.input)
        placement = place_frames(reader.stamps(progress=progress), track)
        _report_empty(args.input, placement.stamp_us)  # empty slots are never placed
        frames = None
        if args.all_frames:
            frames = np.flatnonzero(placement.stamp_us >= 0)
        camera = _camera(args, reader)
        if args.auto_camera:
            from dataclasses import replace

            measured, stats = estimate_camera(reader, placement)
            camera = replace(measured, spot_px=camera.spot_px)
            print(
                f"camera measured from {stats['pairs_x']} + {stats['pairs_y']} frame pairs: "
                f"{camera.pixel_size_um[0]:.3f} x {camera.pixel_size_um[1]:.3f} µm/px, "
                f"x_sign={camera.x_sign:+d}, y_sign={camera.y_sign:+d}"
            )
        return build_mosaic(
            reader,
            placement,
            camera,
            args.resolution,
            frames=frames,
            refine=not args.no_refine,
            progress=progress,
        )


def cmd_mosaic(args) -> int:
    """Stitch the frames taken inside rows into a PNG (north-up, µm grid).

    The mosaic is data, not a plot: one pixel per ``resolution`` µm, its scale in the file's
    description, so other programs can place it; ``crono overlay`` draws it with axes.
    """
    import numpy as np
    from PIL import Image

    from ..core.safety import atomic_path, check_output

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".tif", ".tiff", ".jpg", ".jpeg"):
        raise errors.WriteError(f"{out}: write .png, .tif or .jpg")
    check_output(out, args.overwrite)  # before the work, not after it
    mosaic = _build_mosaic(args)
    image = mosaic.image[::-1] if args.north_up else mosaic.image
    fmt = Image.registered_extensions()[out.suffix.lower()]
    rows, cols = mosaic.weight.shape
    top = "highest" if args.north_up else "lowest"
    # the scale travels with the picture (PNG text chunk / TIFF ImageDescription)
    top_y = mosaic.y0_um + (rows - 1) * mosaic.resolution_um if args.north_up else mosaic.y0_um
    scale = (
        f"CRONO camera mosaic of {Path(args.input).name}: {mosaic.resolution_um:g} um per pixel; "
        f"pixel centre (0, 0) at motor x={mosaic.x0_um:.1f} um, y={top_y:.1f} um; "
        f"y {'decreases' if args.north_up else 'increases'} downwards"
    )
    extra: dict = {}
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        extra["pnginfo"] = PngInfo()
        extra["pnginfo"].add_text("Description", scale)
    elif fmt == "TIFF":
        extra["description"] = scale
    with atomic_path(out, overwrite=args.overwrite, inputs=[args.input]) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format=fmt, **extra)
    print(
        f"{out}: {cols} x {rows} px at {mosaic.resolution_um:g} µm/px from {mosaic.frames.size} "
        f"frames ({mosaic.pairs} registered pairs); first column at motor x="
        f"{mosaic.x0_um:.0f} µm, top row at the {top} y ({top_y:.0f} µm)"
    )
    return 0


def cmd_overlay(args) -> int:
    """Element maps over the camera mosaic, in stage millimetres, as a PNG drawn by matplotlib."""
    import scanstack

    from ..core.safety import check_output
    from ..crono import map_positions
    from ..preview import render
    from ..preview.overlay import element_list, overlay_figure
    from ..xrf import element_maps

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise errors.WriteError(f"{out}: the overlay is written as .png")
    check_output(out, args.overwrite)  # before the work, not after it
    elements = element_list(args.elements)
    if not elements:
        raise errors.UnsupportedError("--elements wants line names, e.g. Pb,Fe,Cu or FeKa,PbLa")
    with scanstack.open(args.input) as stack:
        if len(stack.nav_shape) != 2:
            raise errors.UnsupportedError(
                f"{args.input}: the overlay needs a 2-D map, this file has nav {stack.nav_shape}"
            )
        try:
            maps = element_maps(stack, elements, progress=not args.quiet)
        except KeyError as exc:  # an unknown element or line: say which, not a traceback
            raise errors.UnsupportedError(f"--elements: {exc.args[0]}") from exc
    map_x, map_y = map_positions(args.input)
    mosaic = _build_mosaic(args)
    fig = overlay_figure(
        mosaic, maps, map_x, map_y, title=f"{Path(args.input).name}: {', '.join(elements)}"
    )
    render.save_png(fig, out, inputs=[args.input], overwrite=args.overwrite)
    print(f"{out}: {', '.join(elements)} over the camera mosaic ({mosaic.frames.size} frames)")
    return 0


def cmd_summary(args) -> int:
    """Print the frame/spectrum counts, rates and the explanation of the ratio."""
    import json

    from ..crono import ScanTrack, open_frames, place_frames

    with open_frames(args.input) as stack:
        placement = place_frames(
            stack.reader.stamps(progress=not args.quiet), ScanTrack.from_file(args.input)
        )
    s = placement.summary()
    if args.json:
        print(json.dumps(s, indent=2, default=float))
    else:
        for k, v in s.items():
            if k != "explanation":
                print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
        print(s["explanation"])
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``crono`` (frames / mosaic / overlay / summary) to the main CLI's subparsers."""
    p = subparsers.add_parser(
        "crono",
        help="CRONO MA-XRF camera frames: extract with times and positions, stitch",
        description="Camera frames of a CRONO native .HDF5 file (/Images/Static).",
    )
    sub = p.add_subparsers(dest="crono_command", required=True, metavar="SUBCOMMAND")

    def common(q):
        q.add_argument("input", help="CRONO native .HDF5 file")
        q.add_argument("--quiet", "-q", action="store_true", help="no progress bars")

    q = sub.add_parser("frames", help="write every frame as JPEG and frames.csv (time, position)")
    common(q)
    add_output(q, "output folder")
    q.add_argument("--frames", metavar="START:STOP", help="only these frames")
    q.set_defaults(func=cmd_frames)

    def mosaic_options(q):
        q.add_argument(
            "--resolution",
            "-r",
            type=float,
            default=None,
            help="µm per mosaic pixel (default: the camera pixel, ImagePixelSizeRatio)",
        )
        q.add_argument(
            "--no-refine",
            action="store_true",
            help="place by motor positions only (no phase-correlation registration)",
        )
        q.add_argument(
            "--all-frames",
            action="store_true",
            help="also use frames taken during row changes and before/after the scan",
        )
        q.add_argument("--flip-x", action="store_true", help="image columns run towards -X")
        q.add_argument("--flip-y", action="store_true", help="image rows run towards +Y")
        q.add_argument(
            "--auto-camera",
            action="store_true",
            help="measure the axis directions and pixel size from overlapping frames first",
        )
        q.add_argument(
            "--spot", metavar="COL,ROW", help="X-ray spot in the frame (default: centre)"
        )

    q = sub.add_parser("mosaic", help="stitch the frames into a mosaic image (PNG/TIFF/JPEG)")
    common(q)
    add_output(q, "output .png (or .tif/.jpg)")
    mosaic_options(q)
    q.add_argument(
        "--north-up",
        action="store_true",
        help="put the highest Y at the top (default: map orientation, first row at the top)",
    )
    q.set_defaults(func=cmd_mosaic)

    q = sub.add_parser(
        "overlay", help="element maps over the camera mosaic in stage mm (PNG, matplotlib)"
    )
    common(q)
    add_output(q, "output .png")
    q.add_argument(
        "--elements",
        "-e",
        required=True,
        help="comma-separated lines or elements, e.g. Pb,Fe,Cu (Kα, else Lα) or FeKa,PbLa",
    )
    mosaic_options(q)
    q.set_defaults(func=cmd_overlay)

    q = sub.add_parser("summary", help="frame and spectrum counts and rates: why more frames")
    common(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_summary)
    return p
