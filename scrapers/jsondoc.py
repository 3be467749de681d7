"""Reading JSON payloads defensively: bytes in any Unicode encoding, hostile shapes.

Shared by the JSON format modules. Why not a schema library: vendors add, drop and null
fields freely, and one bad field must skip one record with a reason, not the whole payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from scrapers.encoding import head_text
from scrapers.errors import ParseError

T = TypeVar("T")
_MAX_DEPTH = 64  # real status payloads nest < 10 deep; deeper is hostile


def _depth_ok(value: Any, limit: int = _MAX_DEPTH) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
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
    if not _depth_ok(value):
        raise ParseError(source, "JSON nested too deeply")
    return value


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
