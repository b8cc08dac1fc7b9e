"""hexrd's ``eiger-stream-v2`` adapter: ``open(f, 'eiger-stream-v2', threshold_setting=,
multiplier=)``, with hexrd's ``set_option`` / ``option_values`` for both options."""

from __future__ import annotations

from typing import Any

from ...formats.eiger_stream import ThresholdSettingError, check_threshold_setting
from . import FormatAdapter

OPTIONS = ("threshold_setting", "multiplier")


class EigerStreamV2ImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``eiger-stream-v2`` reader.

    ``threshold_setting`` is ``'threshold_1'`` (default), ``'threshold_2'`` or ``'man_diff'``
    (``threshold_1 - multiplier * threshold_2``, float64). Changing an option re-opens the
    reader with it (cheap: only the first entry is looked at), so ``ims.stack`` follows.
    """

    format = "eiger-stream-v2"

    def __init__(
        self,
        fname: Any,
        threshold_setting: str = "threshold_1",
        multiplier: float = 1,
        **kwargs: Any,
    ):
        check_threshold_setting(threshold_setting)
        self._fname = fname
        self._options = {"threshold_setting": threshold_setting, "multiplier": float(multiplier)}
        self._open_kwargs = kwargs  # e.g. allow_outside, kept when an option re-opens the file
        super().__init__(fname, **self._options, **kwargs)

    @property
    def threshold_setting(self) -> str:
        return self._options["threshold_setting"]

    @threshold_setting.setter
    def threshold_setting(self, value: str) -> None:
        self.set_option("threshold_setting", value)

    @property
    def multiplier(self) -> float:
        return self._options["multiplier"]

    @multiplier.setter
    def multiplier(self, value: float) -> None:
        self.set_option("multiplier", value)

    def option_values(self) -> dict:
        return dict(self._options)

    def set_option(self, key: str, value: Any) -> None:
        if key not in OPTIONS:
            raise ThresholdSettingError(f'"{key}" not in possible options: {", ".join(OPTIONS)}')
        if key == "threshold_setting":
            check_threshold_setting(value)
        else:
            value = float(value)
        from ...core.registry import open as ss_open

        options = {**self._options, key: value}
        stack = ss_open(self._fname, self.format, **options, **self._open_kwargs)
        old, self._stack, self._options = self._stack, stack, options
        old.close()  # a caller's h5py.File stays open (only files the reader opened close)
