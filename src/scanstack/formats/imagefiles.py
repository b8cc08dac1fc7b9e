"""hexrd's ``image-files``: a YAML list of image files read as one series of frames.

::

    image-files:
      directory: frames            # relative to the YAML file's folder (not the current folder)
      files: "a_*.tif b_00[1-3].tif"   # whitespace-separated globs, each sorted, kept in this order
      # or a YAML list, kept in the order given:  files: [c.tif, a.tif, "b_*.tif"]
    options:                       # optional here (hexrd requires the key)
      empty-frames: 0              # frames skipped at the start of each multi-frame file
      max-total-frames: 0          # 0 = all
      max-file-frames: 0           # 0 = all
      dtype: uint16                # cast; an error if a value does not fit
    meta:                          # or metadata:
      omega: "! load-numpy-array omega.npy"

The source is a path to the YAML file or a multi-line YAML string (paths then resolve against the
current folder). Paths may not leave the YAML's folder unless ``allow_outside=True``. TIFF (single
and multi-page) is read with tifffile, PNG/JPEG/BMP/GIF with Pillow, anything else with fabio when
it is installed (``pip install scanstack[fabio]``). Files are inspected at open (headers only) and
frames read on demand, one file open at a time.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from ..core.errors import FormatError, UnsupportedError
from ..core.reader import Reader, region_shape
from ..core.registry import FormatSpec, Probe
from ..core.safety import resolve_inside
from ..core.values import cast_exact, numeric_dtype, whole_number
from ._files import file_runs
from ._hexrd import load_yaml, sniff_yaml_key, yaml_section, yamlmeta

TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".webp")
GEL_SCALE = 2.9452155399372724e-07  # hexrd's .gel conversion: invert(data)**2 * scale
PIL_DTYPES = {
    "1": "?",
    "L": "u1",
    "P": "u1",
    "RGB": "u1",
    "RGBA": "u1",
    "I;16": "<u2",
    "I;16B": ">u2",
    "I;16L": "<u2",
    "I": "<i4",
    "F": "<f4",
    "LA": "u1",
    "CMYK": "u1",
}
OPTION_KEYS = ("empty-frames", "max-total-frames", "max-file-frames", "dtype")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return "tiff"
    if suffix in PIL_SUFFIXES:
        return "pil"
    return "fabio"


def inspect_image(path: Path) -> tuple[str, int, tuple[int, ...], np.dtype]:
    """``(kind, nframes, frame shape, dtype)`` of an image file, reading headers only."""
    kind = _kind(path)
    try:
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                return kind, len(tif.pages), tuple(page.shape), np.dtype(page.dtype)
        if kind == "pil":
            from PIL import Image

            with Image.open(path) as img:
                n = int(getattr(img, "n_frames", 1))
                if img.mode not in PIL_DTYPES:
                    frame = np.asarray(img)
                    return kind, n, frame.shape, frame.dtype
                bands = len(img.getbands())
                shape = (img.height, img.width) + ((bands,) if bands > 1 else ())
                return kind, n, shape, np.dtype(PIL_DTYPES[img.mode]).newbyteorder("=")
        try:
            import fabio
        except ImportError as exc:
            raise UnsupportedError(
                f"{path}: reading {path.suffix or 'this'} files needs fabio: "
                "pip install 'scanstack[fabio]'"
            ) from exc
        img = fabio.open(os.fspath(path))
        try:
            data = img.data
            dt = np.float64 if path.suffix.lower() == ".gel" else data.dtype
            return kind, int(img.nframes), tuple(data.shape), np.dtype(dt)
        finally:
            img.close()
    except (UnsupportedError, FormatError):
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a corrupt/unknown image
        raise FormatError(f"cannot read as an image ({kind}): {exc}", path) from exc


def read_image_frames(path: Path, kind: str, frames: list[int]) -> list[np.ndarray]:
    """Frames ``frames`` (indices inside the file) of one image file, opened once."""
    try:
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(path) as tif:
                return [tif.pages[i].asarray() for i in frames]
        if kind == "pil":
            from PIL import Image

            out = []
            with Image.open(path) as img:
                for i in frames:
                    img.seek(i)
                    out.append(np.asarray(img).copy())
            return out
        import fabio

        img = fabio.open(os.fspath(path))
        try:
            out = []
            for i in frames:
                data = img.data if img.nframes == 1 else img.getframe(int(i)).data
                if path.suffix.lower() == ".gel":
                    data = np.invert(data).astype(np.float64) ** 2 * GEL_SCALE
                out.append(np.asarray(data))
            return out
        finally:
            img.close()
    except Exception as exc:  # noqa: BLE001
        raise FormatError(
            f"cannot read frames {frames} ({kind}; corrupt or truncated?): {exc}", path
        ) from exc


def expand_files(spec, directory: Path, yaml_path, allow_outside: bool) -> list[Path]:
    """The files named by ``spec`` (whitespace-separated globs, or a YAML list), in order.

    Each name or pattern is checked against the YAML's folder *before* looking at the disk, so
    a refused name never tells whether something exists outside; matches are checked again
    (a symlink inside the folder may lead out).
    """
    if isinstance(spec, str):
        tokens = spec.split()
    elif isinstance(spec, (list, tuple)):
        tokens = [str(t) for t in spec]
    else:
        raise FormatError(
            f"image-files/files must be a string of patterns or a list, found "
            f"{type(spec).__name__}",
            yaml_path,
            "image-files/files",
        )
    out: list[Path] = []
    for token in tokens:
        resolve_inside(yaml_path, directory / token, allow_outside)  # before any disk access
        if glob.has_magic(token):
            matches = sorted(glob.glob(os.path.join(glob.escape(os.fspath(directory)), token)))
            if not matches:
                import warnings

                warnings.warn(
                    f"{yaml_path or '<YAML string>'}: pattern {token!r} matches no "
                    f"files in {directory}",
                    UserWarning,
                    stacklevel=4,
                )
        else:
            matches = [os.path.join(directory, token)]
            if not os.path.isfile(matches[0]):
                raise FormatError(
                    f"image-files/files: {matches[0]} does not exist",
                    yaml_path,
                    "image-files/files",
                )
        out += [resolve_inside(yaml_path, Path(m), allow_outside) for m in matches]
    if not out:
        raise FormatError(
            f"image-files/files {spec!r} matches no files in {directory}",
            yaml_path,
            "image-files/files",
        )
    return out


def _option_int(options: dict, key: str, path) -> int:
    return whole_number(options.get(key, 0) or 0, path, f"options/{key}")


class ImageFilesReader(Reader):
    """hexrd ``image-files`` reader. Option ``allow_outside``: let paths leave the YAML's folder."""

    format_name = "image-files"

    def __init__(self, source=None, *, allow_outside: bool = False):
        super().__init__(source, allow_outside=allow_outside)
        tree, ypath = load_yaml(source, "image-files")
        self._yaml = ypath
        section = yaml_section(tree, "image-files", ypath)
        if not isinstance(section, dict):
            raise FormatError(
                "image-files must be a mapping with directory and files", ypath, "image-files"
            )
        directory = resolve_inside(ypath, str(section.get("directory", ".") or "."), allow_outside)
        if not directory.is_dir():
            raise FormatError(
                f"image-files/directory {directory} is not a folder", ypath, "image-files/directory"
            )
        files = expand_files(yaml_section(section, "files", ypath), directory, ypath, allow_outside)
        options = tree.get("options") or {}
        if not isinstance(options, dict):
            raise FormatError("options must be a mapping", ypath, "options")
        empty = _option_int(options, "empty-frames", ypath)
        max_total = _option_int(options, "max-total-frames", ypath)
        max_file = _option_int(options, "max-file-frames", ypath)
        cast = options.get("dtype")
        meta = tree["meta"] if "meta" in tree else tree.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise FormatError("meta must be a mapping", ypath, "meta")

        infos = [inspect_image(f) for f in files]
        _, _, shape0, dtype0 = infos[0]
        for f, (_k, _n, shape, dt) in zip(files, infos, strict=True):
            if shape != shape0 or (cast is None and dt != dtype0):
                raise FormatError(
                    f"frames of {shape} {dt} differ from the first file "
                    f"{files[0].name} ({shape0} {dtype0}); all files must agree",
                    f,
                )
        self.files = files
        self.kinds = [i[0] for i in infos]
        # (file index, first frame inside the file, number of frames) for each file
        segments = []
        total = 0
        for k, (_kind, n, _s, _d) in enumerate(infos):
            skip = empty if n > 1 else 0
            if n > 1 and empty >= n:
                raise FormatError(
                    f"options/empty-frames = {empty} leaves no frames in a file of {n} frames",
                    files[k],
                    "options/empty-frames",
                )
            count = n - skip
            if max_file:
                count = min(count, max_file)
            if max_total:
                count = min(count, max_total - total)
            if count <= 0:
                break
            segments.append((k, skip, count))
            total += count
        self.segments = segments
        self.starts = np.cumsum([0] + [s[2] for s in segments]).astype(np.int64)
        self.nav_shape = (int(total),)
        self.signal_shape = tuple(shape0)
        if cast is not None:
            self.dtype = numeric_dtype(cast, ypath, "options/dtype")
        else:
            self.dtype = np.dtype(dtype0)
        self._cast = cast is not None
        self.metadata = yamlmeta(meta or {}, ypath, allow_outside)
        self.original_metadata = {
            "yaml": os.fspath(ypath) if ypath else None,
            "directory": os.fspath(directory),
            "files": [os.fspath(f) for f in files],
            "options": {k: options[k] for k in OPTION_KEYS if k in options},
        }

    def _convert(self, data: np.ndarray, fname: Path) -> np.ndarray:
        if not self._cast:
            return data
        return cast_exact(data, self.dtype, fname, "options/dtype")

    def read(self, start, stop, region=None):
        sig = region if region is not None else (slice(None),) * len(self.signal_shape)
        out = np.empty((stop - start, *region_shape(region, self.signal_shape)), self.dtype)
        for seg, a, b, o in file_runs(self.starts, start, stop):
            k, skip, _count = self.segments[seg]
            frames = read_image_frames(
                self.files[k], self.kinds[k], list(range(skip + a, skip + b))
            )
            for j, frame in enumerate(frames):
                if frame.shape != self.signal_shape:
                    raise FormatError(
                        f"frame {skip + a + j} has shape {frame.shape}, expected "
                        f"{self.signal_shape}",
                        self.files[k],
                    )
                out[o + j] = self._convert(frame, self.files[k])[sig]
        return out

    def source_paths(self) -> list[str]:
        return [os.fspath(f) for f in self.files] + ([os.fspath(self._yaml)] if self._yaml else [])

    @property
    def path(self) -> str | None:
        return os.fspath(self._yaml) if self._yaml else None


def sniff(probe: Probe) -> float:
    return 0.95 if sniff_yaml_key(probe, rb"image-files") else 0.0


FORMAT = FormatSpec(
    name="image-files",
    description="hexrd image-files: a YAML list of TIFF/PNG/(fabio) images as one series "
    "(option allow_outside=)",
    extensions=(".yml", ".yaml"),
    reader=ImageFilesReader,
    sniff=sniff,
    capabilities={"lazy": True, "hexrd": True},
)
