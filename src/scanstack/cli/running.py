"""How a command runs: one line per warning or error on stderr (library loggers silenced,
``--debug`` for tracebacks), SIGTERM handled like Ctrl-C, and the exit codes."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable

from ..core import errors


def one_line(text: object) -> str:
    """``text`` on one line: line breaks (YAML parser messages, h5py's) become spaces."""
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, without the source line Python would print below it."""
    name = category.__name__ if category not in (UserWarning, Warning) else ""
    prefix = f"{name}: " if name else ""
    print(f"scanstack: warning: {prefix}{one_line(message)}", file=sys.stderr)


@contextlib.contextmanager
def _one_line_messages(debug: bool):
    """Warnings printed as one line each and library log messages (tifffile's, ...) silenced,
    for the duration of a command; restored afterwards (``main`` also runs in-process)."""
    if debug:
        yield
        return
    disabled = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(disabled)


def _error(text: object) -> None:
    print(f"scanstack: error: {one_line(text)}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (temporary outputs removed)."""


def _terminate(signum, frame):
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """In the main thread, and unless someone else handles SIGTERM, make it a :class:`Terminated`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(command: Callable[[], int | None], debug: bool) -> int:
    """Run ``command`` and map what it raises to an exit code: 0 done, 2 an error in the input
    or the options (one line on stderr), 3 an unexpected error (a bug: one line, ``debug`` for
    the traceback), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."""
    with _one_line_messages(debug):
        try:
            with _sigterm_as_interrupt():
                return int(command() or 0)
        except (errors.ScanstackError, OSError) as exc:  # OSError: missing file, disk full, ...
            if debug:
                raise
            _error(exc)
            return 2
        except TypeError as exc:  # an -i/-O/--compression option the reader or writer lacks
            if "unexpected keyword argument" not in str(exc) or debug:
                return _unexpected(exc, debug)
            _error(f"unknown option: {exc}")
            return 2
        except MemoryError:
            if debug:
                raise
            _error("out of memory; try a smaller --memory-budget (the file may claim absurd sizes)")
            return 2
        except KeyboardInterrupt as exc:  # Ctrl-C, and SIGTERM (Terminated)
            if isinstance(exc, Terminated):
                print("scanstack: terminated", file=sys.stderr)
                return 128 + signal.SIGTERM
            print("scanstack: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - a bug: one line, not a traceback
            return _unexpected(exc, debug)


def _unexpected(exc: Exception, debug: bool) -> int:
    if debug:
        raise exc
    _error(
        f"unexpected {type(exc).__name__}: {exc} (a bug in scanstack: please report it "
        "with the output of the same command run with --debug)"
    )
    return 3
