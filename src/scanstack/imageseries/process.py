"""hexrd's ``ProcessedImageSeries`` on scanstack's lazy, block-wise :class:`ProcessedStack`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..process import ProcessedStack
from ..process.ops import Flip
from ._stack import to_stack
from .baseclass import ImageSeries


class ProcessedImageSeries(ImageSeries):
    """Frames of ``imser`` (only ``frame_list``, if given) passed through ``oplist``.

    ``oplist`` is ``[(name, data), ...]``, held by reference; ``metadata`` is a deep copy of
    the source's with ``omega`` cut to ``frame_list``. Ops: hexrd's ``dark`` (clipped at 0,
    never wrapping around on unsigned data), ``flip``, ``rectangle``, ``add``,
    ``gauss_laplace``, ``add-row``, ``add-column``, and scanstack's ``flat``, ``bin``,
    ``threshold``, ``mask``; :meth:`addop` adds more. Series nest in any order.
    """

    DARK = "dark"
    FLIP = "flip"
    RECT = "rectangle"
    ADD = "add"
    GAUSS_LAPLACE = "gauss_laplace"

    def __init__(
        self,
        imser: Any,
        oplist: Sequence[tuple[str, Any]],
        frame_list: Sequence[int] | np.ndarray | None = None,
    ):
        self._imser = imser
        stack = ProcessedStack(to_stack(imser), oplist, frame_list)
        stack._opdict["flip"] = Flip(strict=False)  # hexrd: an unknown flip code is a no-op
        super().__init__(stack)

    @property
    def oplist(self) -> list:
        return self.stack.oplist

    @oplist.setter
    def oplist(self, value: list) -> None:
        self.stack.oplist = value

    @property
    def _opdict(self) -> dict:
        return self.stack._opdict

    def addop(self, key: str, func: Callable[[np.ndarray, Any], np.ndarray]) -> None:
        """Add op ``key``: ``func(img, data) -> img`` on each frame."""
        self.stack.addop(key, func)

    def option_values(self) -> dict:
        fn = getattr(self._imser, "option_values", None)
        return {} if fn is None else fn()

    def set_option(self, key: str, value: Any) -> None:
        self._imser.set_option(key, value)
