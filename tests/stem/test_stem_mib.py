"""4D-STEM tools on Merlin ``.mib`` files: the real RosettaSciIO test files (against RosettaSciIO's
own arrays) and synthetic processed and raw files written by scanstack's mib writer."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from stem_helpers import check_all

import scanstack
from scanstack import stem
from scanstack.core.lanes import direct_source
from scanstack.datasets import SyntheticFrames

mib = pytest.importorskip("scanstack.formats.mib")


@pytest.fixture(scope="module")
def real_files(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("mib")
    for name in ("Merlin_Single_Quad.zip", "Merlin_navigation4x2_ROI.zip"):
        with zipfile.ZipFile(shared_data / "mib" / name) as z:
            z.extractall(out)
    return out


PROCESSED = [
    "Quad_9_Frame_CounterDepth_1_Rows_256.mib",
    "Quad_9_Frame_CounterDepth_6_Rows_256.mib",
    "Quad_9_Frame_CounterDepth_12_Rows_256.mib",
    "Quad_9_Frame_CounterDepth_24_Rows_256.mib",
    "Single_9_Frame_CounterDepth_12_Rows_256.mib",
    "001_4x2_6bit.mib",
    "002_4x2_6bit_roi128.mib",
]


@pytest.mark.parametrize("name", PROCESSED)
def test_real_processed_files_equal_rsciio(real_files, name):
    from rsciio.quantumdetector import file_reader

    path = str(real_files / name)
    expect = np.asarray(file_reader(path)[0]["data"])  # big-endian, rows flipped
    with scanstack.open(path) as stack:
        # (the navigation shape is the reader's business; the frames must be RosettaSciIO's)
        assert stack.nframes * stack.frame_nbytes == expect.nbytes
        expect = expect.reshape(stack.shape)
        assert direct_source(stack) is not None  # the memory-mapped fast path is taken
        check_all(stack, expect)


@pytest.mark.parametrize(
    "name",
    [
        "Quad_9_Frame_CounterDepth_1_Rows_256RAW.mib",
        "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",
    ],
)
def test_real_raw_files(real_files, name):
    with scanstack.open(str(real_files / name)) as stack:
        dense = stack.to_numpy()
        assert direct_source(stack).bits  # 1-bit words folded in place (reader.as_packed)
        check_all(stack, dense)
        # the raw and processed acquisitions of the same sample agree on most pixels
        twin = scanstack.open(str(real_files / name.replace("RAW", "")))
        same = stem.sum_pattern(stack) == stem.sum_pattern(twin)
        assert same.mean() > 0.99


@pytest.mark.parametrize("depth", [1, 6, 12])
@pytest.mark.parametrize("layout", ["1x1", "2x2", "2x2G"])
@pytest.mark.parametrize("raw", [False, True])
def test_synthetic_files(tmp_path, depth, layout, raw):
    if layout == "2x2G" and not raw:
        pytest.skip("processed 2x2G frames are plain arrays, covered by 2x2")
    shape = {"1x1": (64, 64), "2x2": (128, 128), "2x2G": (130, 130)}[layout]
    frames = SyntheticFrames(12, shape, depth, seed=depth)[0:12]
    if layout == "2x2G":  # gap pixels are not stored
        frames[:, 64:66] = 0
        frames[:, :, 64:66] = 0
    path = tmp_path / "scan.mib"
    mib.write_mib(path, frames, depth, layout=layout, raw=raw, nav_shape=(3, 4))
    with scanstack.open(str(path)) as stack:
        assert stack.nav_shape == (3, 4)
        assert direct_source(stack) is not None  # memory map (processed) or packed lanes (raw)
        dense = frames.reshape(3, 4, *shape)
        np.testing.assert_array_equal(stack.to_numpy(), dense)
        check_all(stack, dense)
        check_all(stack.inav[1:, ::3], dense[1:, ::3])
