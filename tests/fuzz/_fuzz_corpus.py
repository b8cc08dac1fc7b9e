"""The fuzz corpus: seeded mutants of the seeds of ``_fuzz_seeds``.

A mutant is named ``<seed>/<mutation>-<k>``; the list of names is fixed (so pytest can parametrize
over it) and each mutant is reproducible from its name: the random choices of mutation ``k`` come
from ``numpy.random.default_rng((SEED, k, ...))``.

Mutations (``MUTATIONS``):

- ``truncate``: the file cut at 0, 1/10, 1/3, 1/2, 9/10 of its length, or one byte short;
- ``flip``: 1 to 64 random bit flips, half of them in the first KiB (headers live there);
- ``smash``: 4-16 bytes overwritten with 0x00, 0xFF or 0x7F… (absurd header values);
- ``grow``: garbage appended (wrong sizes);
- ``h5``: HDF5 structure — a dataset replaced by one of another dtype (float 1e12, 999 in a
  narrower type, bytes ``S1``, negative or fractional values), another shape, or deleted; an
  attribute set to 0, -12, 2**62, NaN or a string;
- ``tree``: a YAML/JSON document (image-files, raw-image, frame-cache yml, zarr.json, mib .hdr
  lines) with a value replaced by an absurd one, or a key dropped;
- ``chunk``: a file of a multi-file format (zarr chunk, TIFF of a sequence, npz of a yml)
  deleted, truncated or swapped for another;
- ``bomb``: a small file claiming a huge size (an unwritten HDF5 dataset of many GiB, an npz
  frame-cache of 65535x65535 frames or an npy member claiming 2**31 values, a zarr array or YAML
  shape of 65535x65535);
- ``none``: the seed itself, which must read back exactly, and whose stack is also probed with
  bad indices (negative, out of range, fractional).

Multi-file seeds (zarr, YAML + data) are folders; a mutation picks one file inside.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _fuzz_seeds import SEED, SEED_KINDS, Seed

#: mutations applied to each seed, with how many variants (k = 0 .. n-1) each
MUTATIONS: dict[str, int] = {
    "none": 1,
    "truncate": 6,
    "flip": 6,
    "smash": 6,
    "grow": 2,
    "h5": 14,
    "tree": 10,
    "chunk": 4,
    "bomb": 2,
}


# -- mutations ---------------------------------------------------------------------------------
def mutant_ids(kinds: tuple[str, ...]) -> list[str]:
    """Every mutant of a seed with these mutation kinds, the unmutated control first."""
    return [f"{kind}-{k}" for kind in ("none", *kinds) for k in range(MUTATIONS[kind])]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _truncate(data: bytes, rng, k: int) -> tuple[bytes, str]:
    cut = [0, len(data) // 10, len(data) // 3, len(data) // 2, 9 * len(data) // 10, len(data) - 1][
        k % 6
    ]
    return data[:cut], f"cut at byte {cut} of {len(data)}"


def _flip(data: bytes, rng, k: int) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = [1, 2, 4, 8, 16, 64][k % 6]
    where = []
    for j in range(n):
        hi = min(len(buf), 1024) if j % 2 == 0 else len(buf)
        pos = int(rng.integers(hi))
        buf[pos] ^= 1 << int(rng.integers(8))
        where.append(pos)
    return bytes(buf), f"{n} bit flips at {sorted(where)[:8]}"


def _smash(data: bytes, rng, k: int) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = int(rng.integers(4, 17))
    fill = _pick(rng, [b"\x00", b"\xff", b"\x7f"])
    hi = min(len(buf), 2048) if k % 2 == 0 else len(buf)
    pos = int(rng.integers(max(hi - n, 1)))
    buf[pos : pos + n] = fill * n
    return bytes(buf[: len(data)]), f"{n} bytes of {fill!r} at {pos}"


def _grow(data: bytes, rng, k: int) -> tuple[bytes, str]:
    extra = rng.integers(0, 256, [7, 4099][k % 2], dtype=np.uint8).tobytes()
    return data + extra, f"{len(extra)} bytes appended"


BYTE_MUTATIONS: dict[str, Callable] = {
    "truncate": _truncate,
    "flip": _flip,
    "smash": _smash,
    "grow": _grow,
}

ABSURD = [0, -1, -12, 2**62, 1.5, float("nan"), 1e12, "garbage", None]


def _h5(path: Path, rng, k: int) -> tuple[str, float | None]:
    """Mutate the HDF5 file at ``path`` in place: one dataset or attribute made absurd.

    Returns the description and, when a dataset was filled with one number, that number.
    """
    import h5py

    with h5py.File(path, "r+") as f:
        datasets: list[str] = []
        attrs: list[tuple[str, str]] = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append(name)
            for a in obj.attrs:
                attrs.append((name, a))

        f.visititems(visit)
        attrs += [("/", a) for a in f.attrs]
        if k % 3 == 2 and attrs:
            obj_name, attr = _pick(rng, attrs)
            value = _pick(rng, [0, -12, 2**62, float("nan"), "garbage", np.zeros(0)])
            f[obj_name].attrs[attr] = value
            return f"attribute {obj_name}@{attr} = {value!r}", None
        name = _pick(rng, datasets)
        ds = f[name]
        how = _pick(
            rng,
            ["float1e12", "overflow", "S1", "negative", "fraction", "shape", "delete", "scalar"],
        )
        shape = ds.shape or ()
        if how == "delete":
            del f[name]
            return f"dataset {name} deleted", None
        kind = ds.dtype.kind if ds.dtype.kind in "biuf" else None
        if how == "shape":
            new_shape = shape[:-1] if len(shape) > 1 else (max(shape[0] // 2, 1) if shape else 2, 3)
            new = np.zeros(new_shape, ds.dtype if kind else np.int64)
        elif how == "scalar":
            new = np.array(7, ds.dtype if kind else np.int64)
        elif how == "float1e12":
            new = np.full(shape, 1e12, np.float64)
        elif how == "overflow":
            new = np.full(shape, 999, np.int64 if kind != "u" else np.uint64)
        elif how == "S1":
            new = np.full(shape, b"7", "S1")
        elif how == "negative":
            new = np.full(shape, -3, np.int64)
        else:  # fraction
            new = np.full(shape, 1.5, np.float64)
        attrs_copy = dict(ds.attrs)
        del f[name]
        try:
            out = f.create_dataset(name, data=new)
            for a, v in attrs_copy.items():
                try:
                    out.attrs[a] = v
                except (TypeError, ValueError):  # object references to a deleted dataset
                    pass
        except (TypeError, ValueError) as exc:
            return f"dataset {name} deleted ({how} failed: {exc})", None
        const = (
            float(new.reshape(-1)[0]) if new.dtype.kind in "iuf" and new.ndim and new.size else None
        )
        return f"dataset {name} {shape} -> {how} {new.shape} {new.dtype}", const


def _mutate_tree(tree, rng) -> str:
    """Replace one leaf of a nested dict/list by an absurd value, or drop a key."""
    path = []
    node = tree
    while True:
        if isinstance(node, dict) and node:
            key = _pick(rng, list(node))
        elif isinstance(node, list) and node:
            key = int(rng.integers(len(node)))
        else:
            break
        child = node[key]
        if not isinstance(child, (dict, list)) or not child or rng.random() < 0.3:
            path.append(key)
            if isinstance(node, dict) and rng.random() < 0.2:
                del node[key]
                return f"{'/'.join(map(str, path))} dropped"
            value = _pick(rng, ABSURD + [[1, 2], {"a": 1}])
            if isinstance(value, float) and value != value:
                value = "nan"
            node[key] = value
            return f"{'/'.join(map(str, path))} = {value!r}"
        path.append(key)
        node = child
    return "nothing to change"


def _tree(root: Path, rng, k: int) -> str:
    """A YAML/JSON/.hdr document of the seed with one value made absurd."""
    import yaml

    docs = [
        p for p in _files(root) if p.suffix in (".yml", ".yaml", ".hdr") or p.name == "zarr.json"
    ]
    if not docs:
        return "no document"
    doc = _pick(rng, docs)
    if doc.suffix == ".hdr":
        lines = doc.read_text(errors="replace").splitlines()
        i = int(rng.integers(len(lines)))
        key, sep, _ = lines[i].partition(":")
        value = _pick(rng, ["-12", "0", "99999999999", "1.5", "nan", "", "x"])
        lines[i] = f"{key}{sep}\t{value}" if sep else value
        doc.write_text("\n".join(lines) + "\n")
        return f"{doc.name} line {i} -> {lines[i]!r}"
    text = doc.read_text()
    if doc.name == "zarr.json":
        tree = json.loads(text)
        what = _mutate_tree(tree, rng)
        doc.write_text(json.dumps(tree))
    else:
        tree = yaml.safe_load(text)
        what = _mutate_tree(tree, rng)
        doc.write_text(yaml.safe_dump(tree))
    return f"{doc.relative_to(root.parent)}: {what}"


def _chunk(root: Path, rng, k: int) -> str:
    """A data file of a multi-file seed deleted, truncated, or replaced by another file's bytes."""
    files = [
        p
        for p in _files(root)
        if p.suffix not in (".yml", ".yaml", ".hdr") and p.name not in ("zarr.json",)
    ]
    if root.is_file():  # a zip: one member made unreadable (the npz frame-cache)
        return _zip_member(root, rng, k)
    if not files:
        return "no data file"
    target = _pick(rng, files)
    how = k % 4
    if how == 0:
        target.unlink()
        return f"{target.relative_to(root.parent)} deleted"
    if how == 1:
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        return f"{target.relative_to(root.parent)} truncated"
    if how == 2:
        target.write_bytes(b"\x00" * 37)
        return f"{target.relative_to(root.parent)} replaced by 37 zero bytes"
    other = _pick(rng, files)
    shutil.copy(other, target) if other != target else target.write_bytes(b"garbage")
    return f"{target.relative_to(root.parent)} replaced by {other.name}"


def _zip_member(path: Path, rng, k: int) -> str:
    """An npz with one member rewritten: corrupt deflate stream, pickled object, wrong dtype/size."""
    import io
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = _pick(rng, sorted(members))
    how = k % 4
    buf = io.BytesIO()
    if how == 1:  # an object array: loading it needs pickle
        np.lib.format.write_array(buf, np.array([None, {"a": 1}], dtype=object), allow_pickle=True)
        members[name] = buf.getvalue()
    elif how == 2:  # the right name, values that do not fit / negative
        arr = np.lib.format.read_array(io.BytesIO(members[name]), allow_pickle=False)
        bad = np.full(arr.shape, -7 if name.endswith(("_row.npy", "_col.npy")) else 1e12)
        np.lib.format.write_array(buf, bad)
        members[name] = buf.getvalue()
    elif how == 3:  # a member of another length
        np.lib.format.write_array(buf, np.arange(3, dtype=np.uint16))
        members[name] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    raw = bytearray(out.getvalue())
    if how == 0:  # corrupt the compressed bytes of the member (zlib.error on read)
        with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
            info = zf.getinfo(name)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for j in range(min(info.compress_size, 8)):
            raw[start + j] ^= 0x5A
    path.write_bytes(bytes(raw))
    kind = ["corrupt deflate", "pickled object", "values 1e12/-7", "3 elements"][how]
    return f"npz member {name}: {kind}"


BOMB_BYTES = 16 << 30  # what a bomb claims: far beyond the RLIMIT_AS cap of the probes


def _h5_bomb(path: Path, rng, k: int) -> str:
    """The largest dataset (k=0) or a random one (k=1) re-declared ~16 GiB, chunked, unwritten."""
    import h5py

    with h5py.File(path, "r+") as f:
        found: list[tuple[int, str]] = []
        f.visititems(
            lambda n, o: (
                found.append((o.size or 0, n))
                if isinstance(o, h5py.Dataset) and o.dtype.kind in "biuf" and o.ndim
                else None
            )
        )
        found.sort(reverse=True)
        size, name = found[0] if k == 0 else _pick(rng, found)
        ds = f[name]
        shape, dtype, attrs = ds.shape, ds.dtype, dict(ds.attrs)
        grow = [i for i, n in enumerate(shape) if n > 1] or [len(shape) - 1]
        factor = (BOMB_BYTES / max(size, 1) / dtype.itemsize) ** (1 / len(grow))
        new = tuple(int(n * factor) + 1 if i in grow else n for i, n in enumerate(shape))
        del f[name]
        out = f.create_dataset(name, shape=new, dtype=dtype, chunks=True)
        for a, v in attrs.items():
            try:
                out.attrs[a] = v
            except (TypeError, ValueError):
                pass
    return f"dataset {name} {shape} re-declared {new} {dtype}, unwritten"


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


def _bomb(path: Path, seed: str, rng, k: int) -> str:
    """A small file that claims a huge size (see the module docstring)."""
    import zipfile

    if "h5" in SEED_KINDS[seed]:
        return _h5_bomb(path, rng, k)
    if seed == "frame-cache-npz":
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        if k == 0:
            members["shape.npy"] = _npy_bytes(np.array([65535, 65535]))
            what = "header shape [65535, 65535]"
        else:  # a frame member whose .npy header claims 2**31 values (the data is 8 bytes)
            header = _npy_bytes(np.zeros(1, np.uint16))
            claim = header.replace(b"(1,)", b"(2147483648,)")
            members["0_data.npy"] = _fix_npy_header(claim) + b"\0" * 8
            what = "0_data.npy claims 2**31 values"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, data in members.items():
                zf.writestr(n, data)
        return what
    if seed in ("frame-cache-yml", "raw-image"):
        import yaml

        tree = yaml.safe_load(path.read_text())
        if "data" in tree:
            tree["data"]["shape"] = [65535, 65535]
            tree["data"]["nframes"] = [6, 1 << 40][k]
        else:
            tree["shape"] = "65535 65535" if k == 0 else "1 1"
            tree["skip"] = 0 if k == 0 else -(1 << 40)
        path.write_text(yaml.safe_dump(tree))
        return f"{path.name}: absurd shape/size"
    if seed == "zarr":
        meta_path = path / "data" / "zarr.json"
        meta = json.loads(meta_path.read_text())
        meta["shape"] = [6, 65535, 65535]
        if k == 1:
            meta["chunk_grid"]["configuration"]["chunk_shape"] = [6, 65535, 65535]
        meta_path.write_text(json.dumps(meta))
        return "data/zarr.json shape [6, 65535, 65535]" + (" in one chunk" if k else "")
    return "no bomb for this format"


def _fix_npy_header(npy: bytes) -> bytes:
    """An .npy header whose dict grew: re-pad it to a multiple of 64 bytes, as numpy requires."""
    magic = npy[:8]
    text = npy[10:].split(b"\n", 1)[0].rstrip()
    body = text + b" " * ((-(10 + len(text) + 1)) % 64) + b"\n"
    return magic + len(body).to_bytes(2, "little") + body


def make_mutant(seed: Seed, mutant: str, out_dir: Path) -> tuple[str, str, float | None]:
    """Write mutant ``mutant`` (e.g. ``'flip-3'``) of ``seed`` under ``out_dir``.

    Returns ``(path to open, description, constant)``: ``constant`` is the number a dataset was
    filled with (h5 mutations), else None.
    """
    const = None
    kind, _, k_text = mutant.rpartition("-")
    k = int(k_text)
    rng = np.random.default_rng((SEED, k, sum(map(ord, seed.name + kind))))
    root = Path(seed.root)
    dest = out_dir / f"{seed.name}.{mutant}"
    if root.is_dir():
        shutil.copytree(root, dest)
        open_path = dest / Path(seed.path).relative_to(root)
    else:
        # a folder per mutant keeps the file's own name (crono's date prefix, the suffix)
        dest = out_dir / f"{seed.name}.{mutant}" / root.name
        dest.parent.mkdir(parents=True)
        shutil.copy(root, dest)
        os.chmod(dest, 0o644)
        open_path = dest
    if kind in BYTE_MUTATIONS:
        target = open_path
        data, what = BYTE_MUTATIONS[kind](target.read_bytes(), rng, k)
        target.write_bytes(data)
    elif kind == "h5":
        what, const = _h5(open_path, rng, k)
    elif kind == "tree":
        what = _tree(dest if root.is_dir() else open_path, rng, k)
    elif kind == "chunk":
        what = _chunk(dest if root.is_dir() else open_path, rng, k)
    elif kind == "bomb":
        what = _bomb(open_path, seed.name, rng, k)
    elif kind == "none":
        what = "the seed itself"
    else:
        raise ValueError(f"unknown mutation {kind!r}")
    return os.fspath(open_path), what, const
