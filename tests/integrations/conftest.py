"""The four files every integration is tested on (issue 11): a real Merlin .mib, a synthetic CRONO
scan with known truth, a hexrd image series and a NeXus file; and a reader that counts reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import scanstack
from scanstack import Axis, Stack
from scanstack.core import registry
from scanstack.core.reader import Reader


@dataclass
class Case:
    """A file, how to open it, and what it must give."""

    name: str
    path: str
    format: str
    options: dict
    truth: np.ndarray  # the whole array, from an independent source
    axes: list[tuple[str, str]]  # (name, units) in array order
    signal_type: str
    extra: dict = field(default_factory=dict)


def _mib_case(shared_data) -> Case:
    path = shared_data / "mib" / "readmib_example.mib"
    from rsciio.quantumdetector import file_reader

    (ref,) = file_reader(str(path), lazy=False)  # RosettaSciIO's own Merlin reader
    return Case(
        "mib",
        str(path),
        "mib",
        {},
        np.asarray(ref["data"]).reshape(2, 256, 256),
        [("frame", ""), ("row", ""), ("column", "")],
        "electron_diffraction",
    )


def _crono_case(tmp) -> Case:
    from scanstack.datasets import write_crono

    path = tmp / "scan.HDF5"
    truth = write_crono(path, rows=4, columns=5, channels=512, images=False, seed=3)
    import h5py

    with h5py.File(path, "r") as f:  # the map pixel's spectrum is row selected_index of Spectra
        spectra = f["XRF/Spectra"][()]
    cube = spectra[truth.selected_index.reshape(-1)].reshape(4, 5, -1)
    return Case(
        "crono",
        str(path),
        "crono",
        {},
        cube,
        [("y", "µm"), ("x", "µm"), ("energy", "keV")],
        "xrf",
        {"geometry": truth.geometry, "calibration": truth.calibration},
    )


def _hexrd_case(tmp) -> Case:
    rng = np.random.default_rng(5)
    data = rng.integers(0, 60000, (6, 20, 24)).astype(np.uint16)
    start = np.arange(6) * 0.25
    omega = np.stack([start, start + 0.25], axis=1)
    src = Stack.from_array(data, signal_ndim=2, metadata={"omega": omega})
    path = scanstack.save(src, tmp / "series.h5", "hdf5", path="imageseries")
    return Case(
        "hexrd",
        str(path),
        "hdf5",
        {"path": "imageseries"},
        data,
        [("frame", ""), ("row", ""), ("column", "")],
        "",
        {"omega": omega},
    )


def _nexus_case(tmp) -> Case:
    rng = np.random.default_rng(6)
    data = rng.poisson(7.0, (3, 4, 128)).astype(np.uint16)
    axes = [
        Axis("y", 3, "mm", 0.02, 1.0),
        Axis("x", 4, "mm", 0.01, 5.0),
        Axis("energy", 128, "keV", 0.0119, -0.006, navigate=False),
    ]
    live = np.linspace(0.5, 0.9, 12)
    meta = {
        "title": "nexus map",
        "signal_type": "xrf",
        "acquisition_time": "2024-05-06T07:08:09Z",
        "live_time": live,
    }
    src = Stack.from_array(data, signal_ndim=1, axes=axes, metadata=meta)
    path = scanstack.save(src, tmp / "map.nxs", "nexus")
    return Case(
        "nexus",
        str(path),
        "nexus",
        {},
        data,
        [("y", "mm"), ("x", "mm"), ("energy", "keV")],
        "xrf",
        {"live_time": live},
    )


@pytest.fixture(scope="session", params=["mib", "crono", "hexrd", "nexus"])
def case(request, shared_data, tmp_path_factory) -> Case:
    tmp = tmp_path_factory.mktemp(request.param)
    make = {
        "mib": lambda: _mib_case(shared_data),
        "crono": lambda: _crono_case(tmp),
        "hexrd": lambda: _hexrd_case(tmp),
        "nexus": lambda: _nexus_case(tmp),
    }
    return make[request.param]()


#: every read the counting reader saw: (first frame, stop, region) or ("frames", indices, region)
READS: list[tuple] = []


class CountingReader(Reader):
    """Another format's reader behind a tally of every read it is asked for."""

    format_name = "counting"

    def __init__(self, source, inner_format: str | None = None, **options):
        super().__init__(source, **options)
        self.inner = scanstack.open(source, inner_format, **options)
        self.nav_shape = self.inner.nav_shape
        self.signal_shape = self.inner.signal_shape
        self.dtype = self.inner.dtype
        self.metadata = self.inner.metadata
        self.original_metadata = self.inner.original_metadata
        self.axes = self.inner.axes

    def read(self, start, stop, region=None):
        READS.append((start, stop, region))
        return self.inner.read(start, stop, region)

    def read_frames(self, frames, region=None):
        READS.append(("frames", np.asarray(frames).tolist(), region))
        return self.inner.read_frames(frames, region)


@pytest.fixture
def counting():
    """Register the ``counting`` format for one test; yields the list of reads (emptied)."""
    registry.register(registry.FormatSpec("counting", "counts reads", reader=CountingReader))
    READS.clear()
    yield READS
    registry._registry.pop("counting", None)
    READS.clear()
