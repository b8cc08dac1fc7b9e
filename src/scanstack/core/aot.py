"""numba kernels compiled ahead of time into the user's cache, then loaded without numba.

numba's own ``cache=True`` keeps the machine code on disk, but every new process still pays for
numba's compiler to start before it can load that code: importing numba, building its typing and
target contexts (which import ``scipy.linalg``), starting LLVM — about 0.6 s of CPU on this
project's machine, more than the median of a 480 MB series takes. A shell user pays that on every
command. So a kernel here is compiled once per signature with ``numba.pycc`` into a small
extension module in a cache folder, and later processes import that module: no numba, no LLVM.

- the cache folder is ``$SCANSTACK_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/scanstack/kernels``,
  else ``~/.cache/scanstack/kernels`` — outside the installed package, so it works the same for
  editable, non-editable and read-only installs; ``SCANSTACK_KERNEL_CACHE=off`` turns it off;
- a module's name is a hash of the kernel's source files, the signature, the Python, numpy and
  numba versions and the CPU (the code is built for the host CPU), so editing a kernel or
  upgrading rebuilds it, and a cache shared between machines keeps one build per CPU;
- the build happens at first use (~0.3 s of CPU per kernel, less than numba's first JIT compile,
  plus ~4.5 s once for pycc's C runtime, which all modules share) and is written to a
  temporary name, then renamed, so concurrent processes never load half a file;
- if it cannot be built or loaded (no C compiler, a read-only cache, a numba without ``pycc``,
  a damaged file) a ``.failed`` file next to it records why (warned once; delete it to try
  again) and the kernel runs under numba's JIT instead, whose ``cache=True`` keeps its code in
  ``__pycache__`` next to the source or, when that is read-only, in numba's user cache
  (``$NUMBA_CACHE_DIR``, else ``~/.cache/numba``).

Every array argument is compiled as C-contiguous (``[:, :]`` in a signature is built as
``[:, ::1]``, see :func:`_contiguous`), the type numba's JIT infers for a contiguous array; a
call with a strided array goes to a second build for any layout, made at its first use. Built for
any layout, as pycc takes ``[:, :]`` literally, every element access multiplies by a run-time
stride and LLVM does not vectorise the loops: the kernels ran 3-5x slower per byte than the JIT
(optimisation level, target CPU and features, boundscheck and the nogil patch were the same).
Measured (one thread, load average 8 on 2 cores, best of 5): ``max_lanes`` u16 64x1 Mpixel
79.6 ms for any layout -> 14.6 ms contiguous, JIT 15.5 ms; ``sum_lanes`` u16->u64 71.1 -> 28.8 ms,
JIT 22.6 ms (byte-swapped: 74.3 -> 27.0 ms, JIT 34.9 ms).

The compiled functions release the GIL like ``@njit(nogil=True)``. They do not check their
arguments (a wrong dtype would crash the process), so :class:`AotKernel` checks every array's
dtype and number of dimensions against the signature before the call.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: environment variable naming the cache folder ("off" disables ahead-of-time compilation)
CACHE_ENV = "SCANSTACK_KERNEL_CACHE"
#: name of every compiled module (their files differ) and of the function inside
_MODULE = "_scanstack_kernel"
_EXPORT = "kernel"
#: one build at a time: pycc's compiler flags are patched while it runs (and it holds numba's
#: compiler lock anyway)
_BUILD_LOCK = threading.Lock()
#: whether a missing build tool (setuptools, numba.pycc) was reported already
_missing_tool_warned = False
_ARG = re.compile(r"^\s*(\w+)\s*(\[[\s:,1]*\])?\s*$")


def cache_dir() -> Path | None:
    """The folder compiled kernels are kept in, or None when turned off (``CACHE_ENV=off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "no") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scanstack" / "kernels"


def _numba_type(dtype) -> str:
    """numba's name of a numpy dtype (native byte order), e.g. ``uint16``, ``boolean``."""
    dtype = np.dtype(dtype)
    return "boolean" if dtype.kind == "b" else dtype.name


def _cpu_identity() -> str:
    """The CPU the code is built for, without importing LLVM: model and features on Linux."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 16).split("\n\n", 1)[0]
        keep = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
        return "\n".join(keep) or text
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def _numba_version() -> bytes:
    """numba's version file, read without importing numba (ImportError when absent)."""
    spec = importlib.util.find_spec("numba")
    if spec is None or not spec.origin:
        raise ImportError("numba is not installed")
    version = Path(spec.origin).with_name("_version.py")
    return version.read_bytes() if version.is_file() else spec.origin.encode()


def _parse_args(signature: str) -> list[tuple[str, int | None]]:
    """``void(uint16[:, :], int64)`` -> ``[("uint16", 2), ("int64", None)]``."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    # split on the commas outside brackets
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            args.append(inner[start:i])
            start = i + 1
    args.append(inner[start:])
    parsed = []
    for text in args:
        match = _ARG.match(text)
        if match is None:
            raise ValueError(f"cannot parse kernel argument {text!r} of {signature!r}")
        name, dims = match.groups()
        parsed.append((name, None if dims is None else dims.count(",") + 1))
    return parsed


def _contiguous(signature: str) -> str:
    """``void(uint16[:, :], int64[:])`` -> ``void(uint16[:, ::1], int64[::1])``: every array
    C-contiguous, as numba's JIT types a contiguous array. Compiled for ``[:, :]`` (any layout)
    every element access multiplies by a stride held at run time and LLVM cannot vectorise the
    loops: that alone made the ahead-of-time kernels 3-5x slower than the JIT."""
    return re.sub(r"\[([\s:,]*)\]", lambda m: "[" + m.group(1).rstrip()[:-1] + "::1]", signature)


class _Checked:
    """A compiled function behind a check of its arguments against the signature.

    ``func`` is compiled for C-contiguous arrays (:func:`_contiguous`); a call with any other
    array goes to ``load_strided()``'s function instead, built for any layout at its first use.
    """

    def __init__(self, func: Callable, signature: str, load_strided: Callable[[], Callable]):
        self.func = func
        self.signature = signature
        self._load_strided = load_strided
        self._strided: Callable | None = None
        self.args = _parse_args(signature)
        self._dtypes = [
            None if nd is None else np.dtype("bool" if t == "boolean" else t) for t, nd in self.args
        ]
        self._scalars = [
            bool if t == "boolean" else (float if t.startswith("float") else int)
            for t, _ in self.args
        ]

    def __call__(self, *args):
        if len(args) != len(self.args):
            raise TypeError(
                f"{self.signature}: takes {len(self.args)} arguments, {len(args)} given"
            )
        call = []
        contiguous = True
        for i, (value, (_, ndim)) in enumerate(zip(args, self.args, strict=True)):
            if ndim is None:
                call.append(self._scalars[i](value))
                continue
            if not (
                isinstance(value, np.ndarray)
                and value.ndim == ndim
                and value.dtype == self._dtypes[i]
                and value.dtype.isnative
            ):
                got = f"{value.dtype}[{value.ndim}d]" if isinstance(value, np.ndarray) else value
                raise TypeError(f"{self.signature}: argument {i} is {got}")
            contiguous = contiguous and value.flags.c_contiguous
            call.append(value)
        if contiguous:
            return self.func(*call)
        if self._strided is None:  # rare (a strided view): build or load that layout once
            self._strided = self._load_strided()
        return self._strided(*call)


class AotKernel:
    """A numba kernel compiled ahead of time per signature (see the module docstring).

    ``source`` is the module holding the kernel, a plain function or an ``@njit`` dispatcher
    named ``name`` (numba-decorated helpers it calls are compiled in); ``signature`` a numba
    signature whose ``{0}``, ``{1}``... are filled with the numba names of the dtypes given to
    :meth:`get`; ``depends`` more modules whose source the kernel's code depends on (constants).

    >>> tile_kernel = AotKernel("pkg._kernels", "tile", "void({0}[:, :], float32[:, :])")
    >>> tile_kernel.get(np.uint16)(tile, out)
    """

    def __init__(self, source: str, name: str, signature: str, depends: Sequence[str] = ()):
        self.source = source
        self.name = name
        self.template = signature
        self.depends = tuple(depends)
        self._loaded: dict[tuple[str, ...], Callable] = {}
        self._lock = threading.Lock()

    def get(self, *dtypes) -> Callable:
        """The kernel for these dtypes: compiled ahead of time, or numba's JIT when it cannot be."""
        key = tuple(_numba_type(d) for d in dtypes)
        func = self._loaded.get(key)
        if func is None:
            with self._lock:  # threads asking at once wait for one build
                func = self._loaded.get(key)
                if func is None:
                    func = self._loaded[key] = self._load(self.template.format(*key))
        return func

    def jit(self) -> Callable:
        """numba's JIT dispatcher of the kernel (imports numba and the source module)."""
        return getattr(importlib.import_module(self.source), self.name)

    # -- building and loading --------------------------------------------------------------------
    def _sources(self) -> list[Path]:
        paths = []
        for module in (self.source, *self.depends):
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.origin or not os.path.isfile(spec.origin):
                raise ImportError(f"no source file for {module}")
            paths.append(Path(spec.origin))
        return paths

    def module_name(self, signature: str) -> str:
        """The compiled module's name: a hash of everything its machine code depends on."""
        digest = hashlib.sha256()
        for part in (
            signature,
            self.source,
            self.name,
            sys.version,
            sys.platform,
            platform.machine(),
            _cpu_identity(),
            np.__version__,
        ):
            digest.update(part.encode() + b"\0")
        digest.update(_numba_version() + b"\0")
        for path in self._sources():
            digest.update(path.read_bytes() + b"\0")
        return f"_scanstack_aot_{self.name}_{digest.hexdigest()[:20]}"

    def _load(self, signature: str) -> Callable:
        """The kernel for C-contiguous arrays, behind its checks, or numba's JIT."""
        func = self._compiled(_contiguous(signature))
        if func is None:
            return self.jit()
        return _Checked(func, signature, lambda: self._compiled(signature) or self.jit())

    def _compiled(self, signature: str) -> Callable | None:
        """The compiled function of this exact signature (built at first use), or None."""
        folder = cache_dir()
        if folder is None:
            return None
        try:
            modname = self.module_name(signature)
        except ImportError:  # no source file (e.g. a zip import): nothing to hash
            return None
        from importlib.machinery import EXTENSION_SUFFIXES

        path = folder / (modname + EXTENSION_SUFFIXES[0])
        failed = folder / (modname + ".failed")
        if failed.exists():
            return None
        try:
            if not path.exists():
                with _BUILD_LOCK:
                    if not path.exists():
                        self._build(signature, folder, path)
            spec = importlib.util.spec_from_file_location(_MODULE, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return getattr(module, _EXPORT)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the JIT still runs the kernel
            self._record_failure(failed, signature, exc)
            return None

    def _record_failure(self, failed: Path, signature: str, exc: Exception) -> None:
        text = f"{self.source}.{self.name} {signature}: {type(exc).__name__}: {exc}"
        try:
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.write_text(text + "\n", encoding="utf-8")
            where = f"recorded in {failed} (delete it to try again)"
        except OSError:  # a cache that cannot be written: the next process tries again
            where = f"{failed.parent} cannot be written"
        global _missing_tool_warned
        if isinstance(exc, ImportError):  # the tools, not this kernel: one warning per process
            if _missing_tool_warned:
                return
            _missing_tool_warned = True
            where += "; numba.pycc needs setuptools and a C compiler"
        warnings.warn(
            f"scanstack: could not compile or load the kernel {text} ahead of time, so it runs "
            f"under numba's JIT (slower to start); {where}",
            RuntimeWarning,
            stacklevel=5,
        )

    def _build(self, signature: str, folder: Path, path: Path) -> None:
        """Compile the kernel with numba.pycc into ``path`` (temporary name, then renamed)."""
        import llvmlite.binding as llvm
        from numba.core.compiler import Flags

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pycc's pending-deprecation notice
            import numba.pycc.compiler as pycc_compiler
            from numba.pycc import CC

        func = self.jit()
        func = getattr(func, "py_func", func)
        folder.mkdir(parents=True, exist_ok=True)

        class _NoGilFlags(Flags):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.release_gil = True  # as @njit(nogil=True): threads run kernels in parallel

        class _SharedMixinCC(CC):
            def _compile_mixins(self, build_dir):
                return _mixin_objects(folder, lambda tmp: CC._compile_mixins(self, tmp))

        with tempfile.TemporaryDirectory(prefix=".build-", dir=folder) as tmp:
            cc = _SharedMixinCC(_MODULE, source_module=sys.modules[self.source])
            cc.output_dir = tmp
            cc.target_cpu = llvm.get_host_cpu_name()
            cc.export(_EXPORT, signature)(func)
            # pycc builds its flags in one place; this is the only way to ask for nogil there
            saved = pycc_compiler.Flags
            pycc_compiler.Flags = _NoGilFlags
            try:
                cc.compile()
            finally:
                pycc_compiler.Flags = saved
            os.replace(os.path.join(tmp, cc.output_file), path)


def _mixin_objects(folder: Path, compile_into: Callable[[str], list[str]]) -> list[str]:
    """pycc's C runtime objects (module init, numba's helpers and NRT), compiled once per numba
    and Python into ``folder`` and shared by every kernel module: they are 80 % of a build's
    CPU. Every module has the same name (:data:`_MODULE`), the one thing they are compiled for.
    """
    digest = hashlib.sha256(
        _numba_version() + sys.version.encode() + sys.platform.encode() + _MODULE.encode()
    )
    shared = folder / f".pycc-runtime-{digest.hexdigest()[:20]}"
    manifest = shared / "objects.txt"
    if not manifest.exists():
        tmp = tempfile.mkdtemp(prefix=".runtime-", dir=folder)
        objects = compile_into(tmp)
        Path(tmp, "objects.txt").write_text(
            "\n".join(os.path.relpath(o, tmp) for o in objects), encoding="utf-8"
        )
        try:
            os.rename(tmp, shared)
        except OSError:  # another process got there first: use its objects
            shutil.rmtree(tmp, ignore_errors=True)
    names = manifest.read_text(encoding="utf-8").split("\n")
    return [str(shared / name) for name in names]
