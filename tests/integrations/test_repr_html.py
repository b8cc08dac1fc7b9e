"""Stack._repr_html_ (issue 11 item 4): what Jupyter shows, from the header only."""

from __future__ import annotations

import scanstack


def test_repr_html_reads_nothing(case, counting):
    s = scanstack.open(case.path, "counting", inner_format=case.format, **case.options)
    page = s._repr_html_()
    assert counting == []  # no frame read to render it
    assert "<table>" in page and "</div>" in page
    assert str(s.nav_shape) in page and str(s.signal_shape) in page
    assert s.dtype.name in page
    for name, units in case.axes:
        assert f"<td>{name}</td>" in page
        if units:
            assert f"<td>{units}</td>" in page
    assert str(s.default_chunks()) in page
    for key in ("title", "signal_type", "acquisition_time", "dwell_time"):
        if s.metadata.get(key):
            assert str(s.metadata[key])[:40] in page


def test_repr_html_escapes_and_sizes():
    import numpy as np

    s = scanstack.Stack.from_array(
        np.zeros((1000, 64, 64), np.uint16), signal_ndim=2, metadata={"title": "<b>&x"}
    )
    page = s._repr_html_()
    assert "&lt;b&gt;&amp;x" in page and "<b>&x" not in page
    assert "8.19 MB (1000 frames of 8.19 kB)" in page
