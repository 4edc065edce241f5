"""A JSON list read one element at a time from a stream (ijson's event parser), so an export of any size
takes the memory of its largest element, not of the whole document; nesting depth and the values of one
element are bounded, so a hostile document is refused instead of built."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import ijson

# A Label Studio task nests eight levels (list, task, annotations, annotation, result, value, labels);
# its extras (meta, predictions) a few more.
MAX_DEPTH = 64
# Values (containers, numbers, strings) in one element: a task with thousands of boxes stays far below.
MAX_VALUES_PER_ELEMENT = 200_000
BOM = b"\xef\xbb\xbf"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class JSONRefused(ValueError):
    """The document is not valid JSON or over a bound; the message says which."""


class NotAList(JSONRefused):
    pass


class _WithoutBOM:
    """The stream less a leading UTF-8 byte-order mark (Windows tools write one; ijson refuses it)."""

    def __init__(self, stream: Readable) -> None:
        self.stream = stream
        self.head: bytes | None = None

    def read(self, size: int = -1) -> bytes:
        if self.head is None:
            head = self.stream.read(len(BOM))
            self.head = head[len(BOM) :] if head == BOM else head
        if size == 0:  # ijson asks for 0 bytes first, to tell bytes from text
            return b""
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.stream.read(size)


def iter_list(
    stream: Readable, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES_PER_ELEMENT
) -> Iterator[Any]:
    """Each element of the JSON list in `stream`, built only when complete. Raises NotAList when the
    document is something else, JSONRefused when it is invalid, too deep, or an element too large;
    exceptions raised by `stream.read` pass through."""
    stack: list[Any] = []
    keys: list[str | None] = []
    values = 0
    started = False
    events = ijson.basic_parse(_WithoutBOM(stream), use_float=True)
    try:
        for event, value in events:
            if not started:
                if event != "start_array":
                    raise NotAList("the document is not a JSON list.")
                started = True
                continue
            if not stack:
                if event == "end_array":
                    continue  # the end of the list; ijson still refuses anything after it
                values = 0
            values += 1
            if values > max_values:
                raise JSONRefused(f"one element of the list holds more than {max_values} values.")
            if event in ("start_map", "start_array"):
                container: Any = {} if event == "start_map" else []
                if len(stack) + 2 > max_depth:  # +1 for the list itself, +1 for this container
                    raise JSONRefused(f"it is nested deeper than {max_depth} levels.")
                if stack:
                    _put(stack[-1], keys[-1], container)
                stack.append(container)
                keys.append(None)
            elif event == "map_key":
                keys[-1] = value
            elif event in ("end_map", "end_array"):
                done = stack.pop()
                keys.pop()
                if not stack:
                    yield done
            elif stack:
                _put(stack[-1], keys[-1], value)
            else:
                yield value
    except ijson.JSONError as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)  # yajl's may be bytes
        first = text.strip().splitlines() or ["unexpected end"]
        raise JSONRefused(f"not valid JSON ({first[0][:200]}).") from None


def _put(parent: Any, key: str | None, value: Any) -> None:
    if isinstance(parent, dict):
        parent[key] = value
    else:
        parent.append(value)
