"""Parsing of ``key=value`` options and processing ops given on the command line."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError


def parse_value(text: str) -> Any:
    """``3`` -> 3, ``1.5`` -> 1.5, ``1,2`` -> (1, 2), ``true`` -> True, ``x.npy``/``x.tif`` -> array."""
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    suffix = Path(text).suffix.lower()
    if suffix in (".npy", ".tif", ".tiff", ".png") and Path(text).is_file():
        return load_array(text)
    if "," in text:
        return tuple(parse_value(t) for t in text.split(",") if t)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def load_array(path: str) -> np.ndarray:
    """An array from .npy (no pickle), TIFF or PNG."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix in (".tif", ".tiff"):
        from ..formats.tiff import open_tiff

        with open_tiff(path) as tif:  # an OME-TIFF's plane files stay in its folder
            return tif.asarray()
    from PIL import Image

    return np.asarray(Image.open(path))


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``["path=/images", "gzip=4"]`` -> ``{"path": "/images", "gzip": 4}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise FormatError(f"option {item!r} must be key=value")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def parse_ops(items: list[str] | None) -> list[tuple[str, Any]]:
    """``["dark=dark.npy", "flip=v", "rectangle=0,100,0,200"]`` -> processing oplist."""
    ops = []
    for item in items or []:
        name, _, value = item.partition("=")
        data = parse_value(value) if value else None
        if name == "rectangle" and isinstance(data, tuple) and len(data) == 4:
            data = ((data[0], data[1]), (data[2], data[3]))
        ops.append((name, data))
    return ops


def parse_bytes(text: str) -> int:
    """``512M``, ``2G``, ``1000000`` -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = text.strip().lower().rstrip("b").rstrip("i")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def add_output(p: argparse.ArgumentParser, text: str, default: str | None = None) -> None:
    """``--output``/``-o`` (help ``text``; required unless it has a ``default``) and, with it,
    ``--overwrite``: every command that writes a file refuses an existing one unless told."""
    p.add_argument("--output", "-o", required=default is None, default=default, help=text)
    add_overwrite(p)


def add_overwrite(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace an existing output (refused by default)."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (by default an existing output is refused)",
    )
