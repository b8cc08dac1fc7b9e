"""The adapter registry: format name -> adapter class (hexrd's ``load.registry``)."""

from __future__ import annotations

from typing import Any


class Registry:
    """Adapter classes by their ``format`` attribute; a later class replaces an earlier one."""

    adapter_registry: dict[Any, type] = {}

    @classmethod
    def register(cls, acls: type) -> None:
        """Register ``acls`` under ``acls.format`` (the abstract base class is skipped)."""
        if acls.__name__ == "ImageSeriesAdapter":
            return
        cls.adapter_registry[acls.format] = acls
