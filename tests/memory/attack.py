"""Run one action on a (hostile) file under an address-space cap: run as a script.

``python attack.py PATH ACTION[,ACTION...] [FORMAT]`` imports scanstack, caps the address space
(``RLIMIT_AS``) at what the process has mapped plus ``SCANSTACK_TEST_AS_MARGIN`` bytes (default
512 MiB), then runs each ACTION and prints one JSON line for each, ``{"action", "ok", "error",
"type", "message", "value"}``:

- ``open``: ``scanstack.open``; ``info`` / ``info-json``: ``scanstack info [--json]`` (in process);
- ``region``: frame 0, rows and columns 0:16; ``frame``: frame 0 whole;
- ``max``, ``median``: the statistic over all frames.

A ``MemoryError`` that is not a ScanstackError means an allocation in proportion to what the file
claims hit the cap.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


def act(path: str, action: str, fmt: str | None):
    import scanstack
    from scanstack import stats

    if action in ("info", "info-json"):
        from scanstack.cli.main import main

        argv = ["info", path] + (["--json"] if action == "info-json" else [])
        if fmt:
            argv += ["--in-format", fmt]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return {"exit": code, "chars": len(out.getvalue()), "stderr": err.getvalue()[-500:]}
    with scanstack.open(path, fmt) as s:
        if action == "open":
            return {"shape": list(s.shape)}
        if action == "region":
            return {"shape": list(s.get_region(0, ((0, 16), (0, 16))).shape)}
        if action == "frame":
            return {"shape": list(s[0].shape)}
        return {"shape": list(getattr(stats, action)(s).shape)}


def main(argv: list[str]) -> None:
    path, actions = argv[0], argv[1].split(",")
    fmt = argv[2] if len(argv) > 2 else None
    import numpy  # noqa: F401

    import scanstack  # noqa: F401
    import scanstack.cli.main  # noqa: F401
    import scanstack.stats  # noqa: F401

    margin = int(os.environ.get("SCANSTACK_TEST_AS_MARGIN", 512 << 20))
    limit = _vm_size() + margin
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for action in actions:
        result = {"action": action, "ok": True, "error": None, "type": None, "message": None}
        try:
            result["value"] = act(path, action, fmt)
        except BaseException as exc:  # reported to the test, which decides
            from scanstack.core.errors import ScanstackError

            result.update(
                ok=False,
                error="scanstack" if isinstance(exc, ScanstackError) else "other",
                type=type(exc).__name__,
                message=str(exc)[:500],
            )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
