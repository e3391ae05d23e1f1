"""Griffe extension: ``#:`` comments above a module or class attribute are its docstring.

The code documents constants and type aliases the Sphinx way (``#: what it is`` on the
lines above the assignment); griffe reads only string literals after it. This extension,
loaded by mkdocstrings (``mkdocs.yml``), makes the comment the docstring, so the Python
reference shows ``SessionDep``, ``API_V1_PREFIX`` and the like with their text (ADR-0040).
"""

from __future__ import annotations

from typing import Any

import griffe


class DocComments(griffe.Extension):
    """Turn the ``#:`` lines right above an attribute into its docstring."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs: Any) -> None:
        if attr.docstring is not None or attr.lineno is None:
            return
        filepath = attr.filepath
        if isinstance(filepath, list) or filepath not in attr.lines_collection:
            return
        lines = attr.lines_collection[filepath]
        comment: list[str] = []
        index = attr.lineno - 2  # the line above the assignment (lineno is 1-based)
        while index >= 0 and lines[index].strip().startswith("#:"):
            comment.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        if comment:
            attr.docstring = griffe.Docstring(
                "\n".join(comment), lineno=index + 2, endlineno=attr.lineno - 1, parent=attr
            )
