"""One module (or small package) per format; each exposes a ``FORMAT`` :class:`FormatSpec`.

They are registered through the ``scanstack.formats`` entry points in ``pyproject.toml``.
"""
