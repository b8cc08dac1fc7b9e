"""Test data shared by the hexrd-family format tests."""

import numpy as np


def omega(n: int) -> np.ndarray:
    """hexrd's per-frame ``omega`` metadata: ``(n, 2)`` start/stop angles (degrees), 0.25 apart."""
    start = np.arange(n) * 0.25
    return np.stack([start, start + 0.25], axis=1)


# -- hexrd's metadata behaviour, rebuilt from its published source (hexrd.core.utils.hdf5,
#    imageseries.save / load.hdf5 / load.framecache / load.metadata / load.imagefiles) so tests
#    can judge scanstack against what hexrd itself writes and returns. --------------------------


def hexrd_dict_to_h5(group, meta: dict) -> None:
    """hexrd's ``unwrap_dict_to_h5`` (fch5 metadata): ``atleast_1d`` datasets; on h5py's
    TypeError ``None`` is dropped, a unicode array stored as ``str(array)``, anything else as is."""
    for key, item in meta.items():
        if isinstance(item, dict):
            hexrd_dict_to_h5(group.create_group(key), item)
            continue
        try:
            group.create_dataset(key, data=np.atleast_1d(item))
        except TypeError:
            if item is None:
                continue
            if isinstance(item, np.ndarray) and item.dtype.kind == "U":
                item = str(item)
            group.create_dataset(key, data=item)


def hexrd_h5_to_dict(group) -> dict:
    """hexrd's ``unwrap_h5_to_dict``: object (string) datasets through ``h5py_read_string``,
    ``(1,)`` datasets to their element, anything else ``np.array(dataset)``."""
    import h5py

    out: dict = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = hexrd_h5_to_dict(item)
        elif np.dtype(item.dtype) == "O":
            info = h5py.check_string_dtype(item.dtype)
            value = (item.asstr() if info is not None and info.encoding == "utf-8" else item)[()]
            out[key] = value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else value
        else:
            tmp = np.array(item)
            out[key] = tmp[0] if tmp.ndim == 1 and len(tmp) == 1 else tmp
    return out


def hexrd_hdf5_attrs(group, meta: dict) -> None:
    """hexrd's ``WriteH5`` metadata loop: every value needs ``.dtype``; unicode becomes bytes."""
    for key, value in meta.items():
        if np.issubdtype(value.dtype, "U"):
            value = value.astype("S")
        group.attrs[key] = value


def hexrd_npz_metadata(path) -> dict:
    """What hexrd's npz frame-cache reader returns as metadata: every non-reserved member."""
    with np.load(path) as arrs:
        n = int(arrs["nframes"])
        reserved = {"nframes", "shape", "dtype"} | {
            f"{i}_{s}" for i in range(n) for s in ("row", "col", "data")
        }
        return {k: arrs[k] for k in arrs.keys() if k not in reserved}


def hexrd_yamlmeta(meta: dict, path=None) -> dict:
    """hexrd's ``yamlmeta``: ``"! load-numpy-array f"`` loads ``join(dirname(path) or '.', f)``,
    ``"++np.array"`` takes the sibling ``<key>-array``; everything else as YAML gave it."""
    import os

    base = os.path.dirname(path) if path is not None else "."
    meta, out = dict(meta), {}
    for key, value in list(meta.items()):
        words = value.split() if isinstance(value, str) else []
        if value == "++np.array":
            out[key] = np.array(meta.pop(f"{key}-array"))
            out.pop(f"{key}-array", None)
        elif len(words) > 1 and words[0] == "!":
            if words[1] == "load-numpy-array":
                out[key] = np.load(os.path.join(base, words[2]))
        else:
            out[key] = value
    return out


def hexrd_image_files(yml) -> tuple[list[str], dict]:
    """The file list and metadata hexrd's image-files reader builds from a YAML file: each
    whitespace-separated token of ``files`` globbed in ``directory`` (against the current
    folder), all matches sorted; ``meta`` through :func:`hexrd_yamlmeta` without a path."""
    import glob
    import os

    import yaml

    with open(yml) as fh:
        tree = yaml.safe_load(fh)
    section = tree["image-files"]
    files: list[str] = []
    for token in section["files"].split():
        files += glob.glob(os.path.join(section["directory"], token))
    files.sort()
    return files, hexrd_yamlmeta(tree["meta"])


def assert_same_value(a, b, where: str = "") -> None:
    """Same type, dtype, shape and value (object arrays compared element by element)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__} ({a!r}, {b!r})"
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same_value(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert a.tolist() == b.tolist(), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def hexrd_eiger_frame(entry) -> np.ndarray:
    """One Eiger-stream frame as hexrd reads it: ``unwrap_h5_to_dict(entry)`` then its
    ``decompress_frame`` (``dectris.compression`` for lz4/bslz4, scipy ``load_npz`` for csrnpz,
    ``np.frombuffer`` when ``compression_type`` is None, ``ValueError`` otherwise)."""
    import io

    from dectris.compression import decompress
    from scipy.sparse import load_npz

    d = hexrd_h5_to_dict(entry)
    kind, dtype, shape, data = d["compression_type"], d["dtype"], d["shape"], d["data"]
    if kind is None:
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    if kind == "csrnpz":
        return load_npz(io.BytesIO(data.tobytes()[8:])).toarray()
    if kind in ("lz4", "bslz4"):
        raw = decompress(data, kind, elem_size=d["elem_size"])
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    raise ValueError(f"Unsupported compression type: {kind}")


def eiger_entry(group, frame: np.ndarray, kind: str, payload: bytes) -> None:
    """A frame entry created exactly as hexrd's own Eiger tests create them."""
    group.create_dataset("compression_type", data=kind)
    group.create_dataset("dtype", data=frame.dtype.str)
    group.create_dataset("shape", data=frame.shape)
    group.create_dataset("elem_size", data=frame.dtype.itemsize)
    group.create_dataset("data", data=np.void(payload))


def lz4_payload(frame: np.ndarray) -> bytes:
    """hexrd's test encoding of lz4: sizes big-endian, one block, with ``lz4.block``."""
    import lz4.block

    raw = frame.tobytes()
    packed = lz4.block.compress(raw, store_size=False)
    header = len(raw).to_bytes(8, "big") + len(raw).to_bytes(4, "big")
    return header + len(packed).to_bytes(4, "big") + packed


def bslz4_payload(frame: np.ndarray) -> bytes:
    """bitshuffle-lz4 bytes made independently of HDF5: bits transposed with numpy within
    blocks of 8192 bytes, each block ``lz4.block``-compressed, the <8 trailing elements raw."""
    import lz4.block

    flat = frame.reshape(-1)
    size = flat.dtype.itemsize
    block = max(8, 8192 // size // 8 * 8)
    parts = [flat.nbytes.to_bytes(8, "big"), (block * size).to_bytes(4, "big")]
    whole = flat.size // 8 * 8
    for i in range(0, whole, block):
        part = flat[i : min(i + block, whole)]
        planes = np.unpackbits(
            part.view(np.uint8).reshape(part.size, size).T, axis=1, bitorder="little"
        )
        planes = planes.reshape(size, part.size, 8).transpose(0, 2, 1)
        packed = lz4.block.compress(
            np.packbits(planes, axis=2, bitorder="little").tobytes(), store_size=False
        )
        parts += [len(packed).to_bytes(4, "big"), packed]
    parts.append(flat[whole:].tobytes())
    return b"".join(parts)


def csrnpz_payload(frame: np.ndarray) -> bytes:
    """hexrd's test encoding of csrnpz: 8-byte big-endian size, then ``save_npz``."""
    import io

    from scipy.sparse import csr_matrix, save_npz

    buf = io.BytesIO()
    buf.write(frame.nbytes.to_bytes(8, "big"))
    save_npz(buf, csr_matrix(frame))
    return buf.getvalue()
