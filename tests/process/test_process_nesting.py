"""Nesting processed stacks over views, omega stacks and each other; region push-down to the
reader; pickling (what dask.distributed does)."""

import itertools
import pickle

import numpy as np
import pytest

import scanstack
from scanstack.core.reader import Reader, crop
from scanstack.core.stack import ReaderStack
from scanstack.omega import OmegaStack
from scanstack.process import ProcessedStack, process

DATA = np.arange(4 * 16 * 12, dtype=np.uint16).reshape(4, 16, 12)
OMEGA = np.stack([np.arange(4.0) * 2, np.arange(4.0) * 2 + 2], axis=1)


class CountingReader(Reader):
    """A real reader over an in-memory array that records every read and the bytes it returns."""

    format_name = "counting"
    log: list = []

    def __init__(self, source=None, *, data=None):
        super().__init__(source, data=data)
        self.data = data
        self.nav_shape = (data.shape[0],)
        self.signal_shape = data.shape[1:]
        self.dtype = data.dtype
        self.metadata = {"omega": OMEGA.copy()}
        self.reads = []

    def read(self, start, stop, region=None):
        block = crop(self.data[start:stop], region).copy()
        self.reads.append((start, stop, region, block.nbytes))
        return block


def counting_stack():
    reader = CountingReader(data=DATA)
    return ReaderStack(reader), reader


def test_rectangle_first_reads_only_the_region():
    s, reader = counting_stack()
    p = process(s, [("rectangle", ((2, 6), (3, 8))), ("add", 1)])
    np.testing.assert_array_equal(p[1], DATA[1, 2:6, 3:8] + 1.0)
    ((_, _, region, nbytes),) = reader.reads
    assert region == (slice(2, 6), slice(3, 8))
    assert nbytes == 4 * 5 * 2


def test_rectangle_after_pointwise_and_flips_is_pushed_down():
    s, reader = counting_stack()
    dark = np.full((16, 12), 5, np.uint16)
    p = process(
        s,
        [
            ("dark", dark),
            ("flip", "cw90"),
            ("flip", "v"),
            ("threshold", 10),
            ("rectangle", ((1, 4), (2, 9))),
        ],
    )
    ref = np.rot90(np.clip(DATA.astype(int) - 5, 0, None), -1, axes=(1, 2))[:, :, ::-1]
    ref = np.where(ref <= 10, 0, ref)[:, 1:4, 2:9]
    np.testing.assert_array_equal(p[:], ref)
    assert all(nbytes == 3 * 7 * 2 * (stop - start) for start, stop, _, nbytes in reader.reads)


def test_get_region_of_nested_stacks_reads_only_the_region():
    s, reader = counting_stack()
    inner = process(s, [("flip", "t")])
    outer = process(OmegaStack(inner), [("bin", 2)])
    got = outer.get_region(3, ((1, 3), (0, 4)))
    np.testing.assert_array_equal(got, DATA[3].T.reshape(6, 2, 8, 2).sum(axis=(1, 3))[1:3, 0:4])
    ((_, _, _, nbytes),) = reader.reads
    assert nbytes == 2 * 2 * 4 * 2 * 2  # (2x2 output) x (2x2 bin) x ... 4 rows x 8 cols uint16


def test_isig_of_a_processed_stack_reads_only_the_region():
    s, reader = counting_stack()
    p = process(s, [("flip", "h")])
    view = p.isig[0:2, 0:3]
    np.testing.assert_array_equal(view[:], DATA[:, ::-1][:, 0:2, 0:3])
    assert sum(n for *_, n in reader.reads) == 4 * 2 * 3 * 2


def layers():
    """Ways to wrap a stack: each returns (wrapped stack, function doing the same on arrays)."""
    return {
        "flip": (
            lambda s: process(s, [("flip", "ccw90")]),
            lambda a, om: (np.rot90(a, 1, axes=(1, 2)), om),
        ),
        "frames": (
            lambda s: process(s, [], frame_list=[2, 0, 1]),
            lambda a, om: (a[[2, 0, 1]], om[[2, 0, 1]]),
        ),
        "rect": (
            lambda s: process(s, [("rectangle", ((1, 7), (2, 8)))]),
            lambda a, om: (a[:, 1:7, 2:8], om),
        ),
        "view": (lambda s: s.inav[1:], lambda a, om: (a[1:], om[1:])),
        "omega": (lambda s: OmegaStack(s), lambda a, om: (a, om)),
        "dark": (
            lambda s: process(s, [("dark", np.full(s.signal_shape, 40, np.uint16))]),
            lambda a, om: (np.clip(a.astype(int) - 40, 0, None), om),
        ),
    }


def test_nesting_in_any_order():
    table = layers()
    for order in itertools.permutations(table, 3):
        s, _ = counting_stack()
        a, om = DATA, OMEGA
        for name in order:
            s = table[name][0](s)
            a, om = table[name][1](a, om)
        np.testing.assert_array_equal(s[:], a, err_msg=str(order))
        np.testing.assert_array_equal(s.metadata["omega"], om, err_msg=str(order))
        r, c = s.signal_shape
        np.testing.assert_array_equal(
            s[0, 1:r, 0 : c - 1], a[0, 1:r, 0 : c - 1], err_msg=str(order)
        )


def test_omega_stack_over_processed_frame_list():
    s, _ = counting_stack()
    o = OmegaStack(process(s, [("flip", "v")], frame_list=[1, 2, 3]))
    assert o.nwedges == 1
    assert o.omega_to_frame(4.5) == (1, 0)
    np.testing.assert_array_equal(o[1], DATA[2, :, ::-1])


def test_processed_stack_pickles_with_its_reader():
    s, _ = counting_stack()
    p = process(
        process(s, [("flip", "t"), ("dark", np.ones((12, 16), np.uint16))]),
        [("rectangle", ((0, 5), (2, 10)))],
        frame_list=[3, 1],
    )
    assert p.signal_shape == (5, 8)  # fills the shape cache, which must not travel
    back = pickle.loads(pickle.dumps(p))
    assert isinstance(back, ProcessedStack)
    np.testing.assert_array_equal(back[:], p[:])
    assert back.oplist == p.oplist and back.dtype == p.dtype


def test_processed_stack_of_a_file_pickles(tmp_path):
    fname = tmp_path / "s.h5"
    scanstack.save(scanstack.Stack.from_array(DATA), fname, "hdf5", path="imageseries")
    p = process(scanstack.open(fname, "hdf5", path="imageseries"), [("bin", (2, "mean"))])
    back = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(back[2], DATA[2].reshape(8, 2, 6, 2).mean(axis=(1, 3)))


def test_processed_stack_on_a_dask_distributed_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    from scanstack import stats

    fname = tmp_path / "s.h5"
    scanstack.save(scanstack.Stack.from_array(DATA), fname, "hdf5", path="imageseries")
    dark = np.full((16, 12), 100, np.uint16)
    p = process(
        scanstack.open(fname, "hdf5", path="imageseries"),
        [("dark", dark), ("flip", "t"), ("rectangle", ((1, 9), (0, 10)))],
    )
    expected = np.clip(DATA.astype(int) - 100, 0, None).transpose(0, 2, 1)[:, 1:9, 0:10].sum(0)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        np.testing.assert_array_equal(stats.sum(p, client=client), expected)
        np.testing.assert_array_equal(client.submit(lambda s: s[:], p).result(), p[:])
