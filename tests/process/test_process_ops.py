"""Every op of scanstack.process against a numpy reference, whole frames and regions."""

import itertools

import numpy as np
import pytest
from scipy import ndimage

import scanstack
from scanstack.process import FLIPS, ProcessError, UnknownOpError, process

RNG = np.random.default_rng(7)
DATA = RNG.integers(0, 1000, size=(5, 12, 10)).astype(np.uint16)
DARK = RNG.integers(0, 1000, size=(12, 10)).astype(np.uint16)
FLAT = RNG.uniform(0.5, 1.5, size=(12, 10))
FLAT[3, 4] = 0.0
MASK = RNG.random((12, 10)) < 0.2


def stack(data=DATA):
    return scanstack.Stack.from_array(data)


def ref_dark(a, d):
    return np.clip(a.astype(np.int64) - d.astype(np.int64), 0, None)


def ref_flat(a, f):
    out = np.zeros(a.shape, np.float32)
    np.divide(a.astype(np.float32), f, out=out, where=f != 0, casting="unsafe")
    return out


def ref_bin(a, k, mode):
    n, r, c = a.shape
    b = a[:, : r // k * k, : c // k * k].reshape(n, r // k, k, c // k, k)
    return b.sum(axis=(2, 4)) if mode == "sum" else b.mean(axis=(2, 4))


FLIP_REF = {
    "y": lambda a: a[:, :, ::-1],
    "v": lambda a: a[:, :, ::-1],
    "x": lambda a: a[:, ::-1],
    "h": lambda a: a[:, ::-1],
    "vh": lambda a: a[:, ::-1, ::-1],
    "hv": lambda a: a[:, ::-1, ::-1],
    "r180": lambda a: np.rot90(a, 2, axes=(1, 2)),
    "t": lambda a: a.transpose(0, 2, 1),
    "T": lambda a: a.transpose(0, 2, 1),
    "ccw90": lambda a: np.rot90(a, 1, axes=(1, 2)),
    "r90": lambda a: np.rot90(a, 1, axes=(1, 2)),
    "cw90": lambda a: np.rot90(a, -1, axes=(1, 2)),
    "r270": lambda a: np.rot90(a, -1, axes=(1, 2)),
    "none": lambda a: a,
}

# (oplist, reference on the whole (n, rows, cols) array, expected dtype)
CASES = {
    "dark": ([("dark", DARK)], lambda a: ref_dark(a, DARK), np.uint16),
    "dark-float": (
        [("dark", np.ones((12, 10)))],
        lambda a: np.where(a >= 1, a - 1.0, 0),
        np.float64,
    ),
    "flat": ([("flat", FLAT)], lambda a: ref_flat(a, FLAT), np.float32),
    "add": ([("add", 2.5)], lambda a: a.astype(np.float32) + 2.5, np.float32),
    "add-list": (
        [("add", list(range(10)))],
        lambda a: a.astype(np.float32) + np.arange(10),
        np.float64,
    ),
    "add-array": ([("add", FLAT)], lambda a: a.astype(np.float32) + FLAT, np.float64),
    "threshold": ([("threshold", 500)], lambda a: np.where(a <= 500, 0, a), np.uint16),
    "mask": ([("mask", MASK)], lambda a: np.where(MASK, 0, a), np.uint16),
    "mask-fill": ([("mask", (MASK, 7))], lambda a: np.where(MASK, 7, a), np.uint16),
    "mask-nan": (
        [("mask", {"mask": MASK, "fill": np.nan})],
        lambda a: np.where(MASK, np.nan, a),
        np.float64,
    ),
    "rectangle": ([("rectangle", ((2, 9), (1, 7)))], lambda a: a[:, 2:9, 1:7], np.uint16),
    "rectangle-clipped": (
        [("rectangle", ((-4, 40), (3, 99)))],
        lambda a: a[:, -4:40, 3:99],
        np.uint16,
    ),
    "bin-sum": ([("bin", 3)], lambda a: ref_bin(a, 3, "sum"), np.uint64),
    "bin-mean": ([("bin", (2, "mean"))], lambda a: ref_bin(a, 2, "mean"), np.float32),
    "add-row": ([("add-row", [0, 5])], lambda a: np.insert(a, [0, 5], 0, axis=1), np.uint16),
    "add-column": ([("add-column", 3)], lambda a: np.insert(a, 3, 0, axis=2), np.uint16),
    "gauss_laplace": (
        [("gauss_laplace", 1.0)],
        lambda a: np.stack([ndimage.gaussian_laplace(f, 1.0) for f in a]),
        np.uint16,
    ),
}
CASES.update({f"flip-{c}": ([("flip", c)], FLIP_REF[c], np.uint16) for c in FLIP_REF})


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_numpy(name):
    oplist, ref, dtype = CASES[name]
    expected = ref(DATA)
    p = process(stack(), oplist)
    assert p.dtype == dtype
    assert p.signal_shape == expected.shape[1:]
    got = p[:]
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected.astype(dtype), rtol=1e-6)
    np.testing.assert_allclose(p[3], expected[3].astype(dtype), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_region_reads_match_whole_frames(name):
    oplist, ref, dtype = CASES[name]
    p = process(stack(), oplist)
    full = p[:]
    rows, cols = p.signal_shape
    for r0, r1, c0, c1 in [(0, rows, 0, cols), (1, rows - 1, 2, cols), (rows // 2, rows, 0, 1)]:
        np.testing.assert_array_equal(p[2, r0:r1, c0:c1], full[2, r0:r1, c0:c1])
        np.testing.assert_array_equal(p.get_region(4, ((r0, r1), (c0, c1))), full[4, r0:r1, c0:c1])
        np.testing.assert_array_equal(p.isig[r0:r1, c0:c1][:], full[:, r0:r1, c0:c1])


def test_flip_table_has_every_hexrd_code():
    assert set(FLIPS) == set(FLIP_REF) - {"none"}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_dark_never_wraps_on_unsigned_data(dtype):
    a = np.array([[[0, 5, 10, 200]]], dtype=dtype)
    dark = np.array([[3, 5, 20, 100]], dtype=dtype)
    p = process(stack(a), [("dark", dark)])
    assert p.dtype == dtype
    np.testing.assert_array_equal(p[0], np.array([[0, 0, 0, 100]], dtype=dtype))


def test_dark_on_signed_data_clips_into_range():
    a = np.array([[[-30000, 100, 32000]]], dtype=np.int16)
    dark = np.array([[10000, -5000, -5000]], dtype=np.int16)  # 32000 + 5000 overflows int16
    p = process(stack(a), [("dark", dark)])
    assert p.dtype == np.int16
    np.testing.assert_array_equal(p[0], np.array([[0, 5100, 32767]], dtype=np.int16))


def test_user_ops_per_frame_and_per_block():
    p = process(stack(), [("scale", 3), ("shift", 1)])
    seen = []

    def scale(img, k):
        seen.append(img.ndim)
        return img.astype(np.int64) * k

    p.addop("scale", scale)
    p.addop("shift", lambda block, d: block + d, block=True)
    np.testing.assert_array_equal(p[:], DATA.astype(np.int64) * 3 + 1)
    assert set(seen) == {2}
    assert p.dtype == np.int64 and p.signal_shape == (12, 10)


def test_user_op_changing_the_shape_then_builtin_ops():
    p = process(stack(), [("crop-first-row", None), ("flip", "t")])
    p.addop("crop-first-row", lambda img, d: img[1:])
    assert p.signal_shape == (10, 11)
    np.testing.assert_array_equal(p[:], DATA[:, 1:].transpose(0, 2, 1))
    np.testing.assert_array_equal(p[1, 2:5, 3:9], DATA[1, 1:].T[2:5, 3:9])


def test_oplist_is_held_by_reference():
    oplist = [("flip", "v")]
    p = process(stack(), oplist)
    assert p.signal_shape == (12, 10)
    oplist.append(("flip", "t"))
    assert p.signal_shape == (10, 12)
    np.testing.assert_array_equal(p[0], DATA[0, :, ::-1].T)


def test_frame_list_selects_frames_and_omega():
    om = np.stack([np.arange(5.0), np.arange(5.0) + 1], axis=1)
    s = scanstack.Stack.from_array(DATA, metadata={"omega": om})
    p = process(s, [("threshold", 100)], frame_list=[4, -5, 2])
    assert p.nav_shape == (3,)
    np.testing.assert_array_equal(p[:], np.where(DATA[[4, 0, 2]] <= 100, 0, DATA[[4, 0, 2]]))
    np.testing.assert_array_equal(p.metadata["omega"], om[[4, 0, 2]])
    assert s.metadata["omega"].shape == (5, 2)


def test_blocks_bounded_by_block_bytes_give_the_same_result():
    oplist = [("dark", DARK), ("flip", "cw90"), ("bin", 2)]
    whole = process(stack(), oplist)[:]
    with scanstack.settings(block_bytes=200):  # one frame at a time
        p = process(stack(), oplist)
        np.testing.assert_array_equal(p[:], whole)
        np.testing.assert_array_equal(np.concatenate([b for _, _, b in p.iter_blocks()]), whole)


def test_to_dask_matches():
    p = process(stack(), [("flip", "ccw90"), ("add", 1)])
    np.testing.assert_array_equal(p.to_dask().compute(), p[:])


def test_unknown_op_is_a_clear_keyerror():
    p = process(stack(), [("flip", "v"), ("sharpen", 2)])
    with pytest.raises(UnknownOpError, match="'sharpen'.*known operations: add") as info:
        p[0]
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize(
    "oplist, match",
    [
        ([("dark", np.ones((3, 3)))], "does not match frames"),
        ([("rectangle", (1, 2))], r"\(\(r0, r1\), \(c0, c1\)\)"),
        ([("bin", 0)], "factor >= 1"),
        ([("flip",)], "expected \\(name, data\\)"),
        # these were bare TypeErrors from numpy (e.g. '<' not supported ... NoneType)
        ([("add-row", None)], "op 'add-row' cannot use None"),
        ([("threshold", None)], "op 'threshold' cannot use None"),
        ([("add", "x")], "op 'add' cannot use 'x'"),
        ([("gauss_laplace", "x")], "op 'gauss_laplace' cannot use 'x'"),
    ],
)
def test_bad_op_data_is_a_clear_error(oplist, match):
    p = process(stack(), oplist)
    with pytest.raises(ProcessError, match=match):
        p[0]


def test_ops_needing_2d_frames_refuse_spectra():
    s = scanstack.Stack.from_array(np.ones((4, 16)), signal_ndim=1)
    with pytest.raises(ProcessError, match="2-D frames"):
        process(s, [("flip", "t")])[0]
    np.testing.assert_array_equal(process(s, [("add", 1)])[2], np.full(16, 2.0))


def test_every_pair_of_geometric_ops_commutes_with_regions():
    ops = [
        ("flip", "ccw90"),
        ("rectangle", ((1, 11), (2, 9))),
        ("bin", 2),
        ("add-row", 2),
        ("flip", "h"),
        ("dark", None),
    ]
    for a, b in itertools.permutations(ops, 2):
        oplist = [a, b]
        p = process(stack(), oplist)
        for i, (name, _data) in enumerate(oplist):
            if name == "dark":
                shape = process(stack(), oplist[:i]).signal_shape
                oplist[i] = ("dark", np.full(shape, 300, np.uint16))
        full = p[:]
        r, c = p.signal_shape
        np.testing.assert_array_equal(
            p[1, 1:r, c // 2 : c], full[1, 1:r, c // 2 : c], err_msg=str(oplist)
        )


def test_unknown_flip_code_is_an_error_but_a_no_op_in_the_hexrd_drop_in():
    """A typo ('cw' for 'cw90') must not give unflipped frames silently; hexrd users keep hexrd."""
    import scanstack
    from scanstack.imageseries.process import ProcessedImageSeries
    from scanstack.process import ProcessError, process

    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    stack = scanstack.open(None, "array", data=data)
    with pytest.raises(ProcessError, match="unknown code 'cw'"):
        process(stack, [("flip", "cw")])[0]
    np.testing.assert_array_equal(process(stack, [("flip", "none")])[1], data[1])
    hexrd_style = ProcessedImageSeries(stack, [("flip", "cw")])
    np.testing.assert_array_equal(hexrd_style[1], data[1])
