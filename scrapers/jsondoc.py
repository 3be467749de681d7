"""Reading JSON payloads defensively: bytes in any Unicode encoding, hostile shapes.

Shared by the JSON format modules. Why not a schema library: vendors add, drop and null
fields freely, and one bad field must skip one record with a reason, not the whole payload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from scrapers.encoding import head_text
from scrapers.errors import ParseError

T = TypeVar("T")
_MAX_DEPTH = 64  # real status payloads nest < 10 deep; deeper is hostile
# A lone UTF-16 surrogate ("\\ud800") is valid JSON but no Unicode text: it cannot be encoded
# as UTF-8, so it would fail later (content hash, database, site) far from the payload.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """`value` with every lone surrogate replaced by U+FFFD (the visible "unreadable" mark);
    valid text is returned as is. Every decoded JSON string goes through it (load_json)."""
    return _SURROGATE.sub(REPLACEMENT, value) if _SURROGATE.search(value) else value


def _depth_ok(value: Any, limit: int = _MAX_DEPTH) -> bool:
    """True when `value` nests at most `limit` deep. Iterative (a deep value must not raise
    RecursionError here); on the way, lone surrogates in strings and keys become U+FFFD."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            if any(isinstance(k, str) and _SURROGATE.search(k) for k in item):
                cleaned = {clean_text(k): v for k, v in item.items()}
                item.clear()
                item.update(cleaned)
            for key, child in item.items():
                if isinstance(child, str):
                    if _SURROGATE.search(child):
                        item[key] = clean_text(child)
                else:
                    stack.append((child, depth + 1))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str):
                    if _SURROGATE.search(child):
                        item[index] = clean_text(child)
                else:
                    stack.append((child, depth + 1))
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def load_json(body: bytes, source: str) -> Any:
    """Decode a JSON document, raising ParseError with a one-line reason on anything wrong."""
    if not body.strip():
        raise ParseError(source, "empty body")
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ParseError(source, "JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        text = head_text(body, 200).lstrip()
        if text[:1] == "<":
            raise ParseError(source, "expected JSON, got HTML/XML") from None
        reason = str(exc).splitlines()[0][:160]
        raise ParseError(source, f"malformed JSON ({reason})") from None
    if isinstance(value, str):
        return clean_text(value)
    if not _depth_ok(value):
        raise ParseError(source, "JSON nested too deeply")
    return value


def one_line(value: Any) -> str | None:
    """A string value with its whitespace runs made single spaces; None for an empty one or
    a non-string."""
    return " ".join(value.split()) or None if isinstance(value, str) else None


def text_field(obj: dict[str, Any], key: str) -> str | None:
    """A string field; numbers are stringified; lists, dicts and the rest count as absent."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def time_field(obj: dict[str, Any], key: str) -> datetime | None:
    """An ISO-8601 timestamp field in UTC; absent, null or unparseable gives None."""
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        return None
    return parse_time(value)


def parse_time(value: str) -> datetime | None:
    """ISO-8601 (with Z or an offset) to aware UTC; naive stamps are taken as UTC."""
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    try:
        return stamp.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def list_field(obj: dict[str, Any], key: str) -> list[Any]:
    """A list field; null, a string such as "[]" (seen in reminder_intervals) or junk give []."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def native_id(value: str | None) -> str:
    """An incident id fit to be half of a `provider/native_id` key: non-blank, no "/", at
    most 64 characters. ValueError otherwise (the caller skips that entry with a warning)."""
    if not value or not value.strip() or "/" in value or len(value) > 64:
        raise ValueError("missing or invalid id")
    return value


def parse_each(items: list[Any], parse: Callable[[dict[str, Any]], T | None],
               what: str) -> tuple[list[T], int]:
    """`parse` over the object items of a list: (the readable ones, how many were not).
    ValueError when there were items and none could be read."""
    found: list[T] = []
    skipped = 0
    for item in items:
        value = parse(item) if isinstance(item, dict) else None
        if value is None:
            skipped += 1
        else:
            found.append(value)
    if skipped and not found:
        raise ValueError(f"all {skipped} {what} unreadable")
    return found, skipped


def parse_records(items: list[Any], parse: Callable[[dict[str, Any]], T], source: str,
                  what: str) -> tuple[list[T], list[str]]:
    """`parse` over each item of a payload's record list: (the records, one warning per item
    that is no object or whose `parse` raised ValueError, naming `source` and the record's id
    or position)."""
    found: list[T] = []
    warnings: list[str] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            warnings.append(f"{source}: {what} #{index}: not an object")
            continue
        try:
            found.append(parse(raw))
        except ValueError as exc:
            warnings.append(f"{source}: {what} {text_field(raw, 'id') or '#' + str(index)}: "
                            f"{exc}")
    return found, warnings


# -- streaming large payloads -----------------------------------------------------------------

STREAM_BYTES = 8 * 1024 * 1024  # larger JSON payloads are read one array item at a time


def stream_top(body: bytes, source: str, arrays: frozenset[str]) -> Iterator[tuple[str, Any]]:
    """The top level of a JSON document without building it whole: (key, value) for each
    key of a top-level object, except that a key named in `arrays` whose value is an array
    yields (key, item) once per item; a top-level array yields ("", item) per item. Memory
    stays that of the largest single value yielded, not of the document.

    Why ijson's basic_parse and a builder of our own rather than ijson.items: ijson's
    prefix strings grow with depth, so a value nested 100,000 deep cost 21 GB; here depth is
    bounded (_MAX_DEPTH) as the events arrive. Raises ParseError as load_json does.
    """
    import ijson  # only for large payloads

    # large read chunks: with the default 64 KB, yajl re-buffers a long string token chunk
    # by chunk, quadratically (a 60 MB body took 88 s; with 1 MB chunks a few seconds).
    # Not larger: each chunk's events are built at once, so memory grows with the chunk
    events = ijson.basic_parse(body, use_float=True, buf_size=1 << 20)
    try:
        yield from _top_items(events, source, arrays)
    except ijson.JSONError as exc:
        text = head_text(body, 200).lstrip()
        if text[:1] == "<":
            raise ParseError(source, "expected JSON, got HTML/XML") from None
        reason = " ".join(str(exc).split())[:160]
        raise ParseError(source, f"malformed JSON ({reason})") from None


def _top_items(events: Iterator[tuple[str, Any]], source: str,
               arrays: frozenset[str]) -> Iterator[tuple[str, Any]]:
    first = next(events, None)
    if first is None:
        raise ParseError(source, "empty body")
    event, value = first
    if event == "start_array":
        yield from (("", item) for item in _array_items(events, source, 1))
        return
    if event != "start_map":
        yield "", _scalar(event, value)
        return
    for event, value in events:
        if event == "end_map":
            return
        key = clean_text(value)  # event is map_key
        event, value = _next(events, source)
        if event == "start_array" and key in arrays:
            yield from ((key, item) for item in _array_items(events, source, 2))
        else:
            yield key, _build(event, value, events, source, 1)


def _next(events: Iterator[tuple[str, Any]], source: str) -> tuple[str, Any]:
    """The next event; a document that ends early is malformed (never a StopIteration,
    which inside a generator would surface as RuntimeError)."""
    item = next(events, None)
    if item is None:
        raise ParseError(source, "malformed JSON (ends early)")
    return item


def _array_items(events: Iterator[tuple[str, Any]], source: str,
                 depth: int) -> Iterator[Any]:
    for event, value in events:
        if event == "end_array":
            return
        yield _build(event, value, events, source, depth)


def _scalar(event: str, value: Any) -> Any:
    return clean_text(value) if event == "string" else value


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]], source: str,
           depth: int) -> Any:
    """The value that starts with (event, value), read iteratively from `events`."""
    if event not in ("start_map", "start_array"):
        return _scalar(event, value)
    root: Any = {} if event == "start_map" else []
    stack: list[Any] = [root]
    keys: list[str | None] = [None]
    while stack:
        event, value = _next(events, source)
        top = stack[-1]
        if event in ("end_map", "end_array"):
            stack.pop()
            keys.pop()
            continue
        if event == "map_key":
            keys[-1] = clean_text(value)
            continue
        if event in ("start_map", "start_array"):
            if depth + len(stack) > _MAX_DEPTH:
                raise ParseError(source, "JSON nested too deeply")
            child: Any = {} if event == "start_map" else []
        else:
            child = _scalar(event, value)
        if isinstance(top, dict):
            top[keys[-1]] = child
        else:
            top.append(child)
        if event in ("start_map", "start_array"):
            stack.append(child)
            keys.append(None)
    return root
