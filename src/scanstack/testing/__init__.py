"""Test helpers for scanstack and for authors of format plug-ins.

:func:`check_reader` opens an input through the registry and checks the whole reader contract
(declared shapes and dtype, block and region reads, clamping, ``IndexError`` for bad ranges,
pickling by re-opening); scanstack's own suite runs it over every registered format
(``tests/core/test_contract.py``). Synthetic sample data (instrument simulators) are in
:mod:`scanstack.datasets`.

>>> from scanstack.testing import check_reader
>>> check_reader("scan.mib", expected=frames)      # raises ContractError listing what is wrong
"""

from __future__ import annotations

from .contract import ContractError, ContractReport, check_reader

__all__ = ["ContractError", "ContractReport", "check_reader"]
