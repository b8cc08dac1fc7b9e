"""hexrd's ``array`` format: a stack over an in-memory array (``open(None, 'array', data=...)``)."""

from ..core.memory import ArrayReader
from ..core.registry import FormatSpec

FORMAT = FormatSpec(
    name="array",
    description="in-memory numpy/dask array (hexrd 'array'; options data=, meta=, signal_ndim=)",
    reader=ArrayReader,
    capabilities={"lazy": True, "region": True, "source": "none (data=...)"},
)
