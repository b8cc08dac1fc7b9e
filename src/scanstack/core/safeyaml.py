"""The one YAML loader: safe tags only, bounded size, bounded alias expansion.

``yaml.safe_load`` builds no Python objects from tags, but it still lets a few hundred bytes of
nested aliases (``b: [*a, *a, …]``, ``c: [*b, *b, …]``…) stand for billions of nodes: parsing
is quick (aliases share their node), and whatever walks the result afterwards (printing
metadata, JSON, copying) runs out of time and memory. :func:`load_yaml_text` counts the nodes
the document expands to and refuses it when aliases add more than :data:`MAX_ALIAS_NODES`
nodes, or when an alias refers to a node that contains it (a cycle), or when the text is larger
than :data:`MAX_YAML_BYTES`, or nested deeper than the parser can follow.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import FormatError

#: largest YAML text read (bytes); hexrd YAML files are a few KB, file lists a few MB
MAX_YAML_BYTES = 64 * 2**20
#: how many nodes aliases may add to a document beyond the nodes written in it
MAX_ALIAS_NODES = 10_000


class AliasBombError(FormatError):
    """A YAML document whose aliases expand beyond the bound (or into themselves)."""


class _Cycle(Exception):
    """An alias inside the node it names."""


def _children(node) -> list:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root) -> tuple[int, int]:
    """``(distinct nodes, nodes once every alias is expanded)`` of a composed YAML node graph.

    Raises ``_Cycle`` for an alias inside the node it names.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _Cycle
        on_path.add(key)
        total = 1 + sum(size(child) for child in _children(node))
        on_path.discard(key)
        sizes[key] = total
        return total

    expanded = size(root) if root is not None else 0
    return len(sizes), expanded


def _loader_class():
    import yaml

    # libyaml's parser when present: fast, and it refuses nesting beyond 1000 levels itself
    # (PyYAML's pure-Python scanner costs O(depth) per token on nested flow collections)
    base = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

    class BoundedLoader(base):
        """Safe loader that measures the composed document before constructing it."""

        source_name: Any = None

        def get_single_node(self):
            node = super().get_single_node()
            try:
                distinct, expanded = expanded_size(node)
            except _Cycle as exc:
                raise AliasBombError(
                    "a YAML alias refers to a node that contains it (endless); refused",
                    self.source_name,
                ) from exc
            if expanded - distinct > MAX_ALIAS_NODES:
                raise AliasBombError(
                    f"YAML aliases expand {distinct} written nodes into {expanded}; at most "
                    f"{MAX_ALIAS_NODES} nodes may come from aliases (an alias bomb?)",
                    self.source_name,
                )
            return node

    return BoundedLoader


_LOADER = None


def load_yaml_text(text: str, path: str | os.PathLike | None = None, what: str = "YAML") -> Any:
    """Parse one YAML document with safe tags only, within the bounds above.

    Raises :class:`FormatError` (naming ``path``) for oversized text, alias bombs, cycles,
    nesting too deep for the parser and any YAML syntax error (``what`` names the expected
    content in that message).
    """
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    if len(text) > MAX_YAML_BYTES:
        raise FormatError(
            f"YAML text of {len(text)} characters, more than the {MAX_YAML_BYTES} read", path
        )
    loader = _LOADER(text)
    loader.source_name = path
    try:
        return loader.get_single_data()
    except RecursionError as exc:
        raise FormatError(f"expected {what}, found YAML nested too deeply to parse", path) from exc
    except yaml.YAMLError as exc:
        said = " ".join(str(exc).split())  # one line: the parser's message spans several
        raise FormatError(f"expected {what}, the YAML parser says: {said}", path) from exc
    finally:
        loader.dispose()


__all__ = ["AliasBombError", "MAX_ALIAS_NODES", "MAX_YAML_BYTES", "load_yaml_text"]
