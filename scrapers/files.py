"""Recorded payloads on disk (git-scraped archives, Flat Data snapshots) read as RawDocs.

An archiver's sidecar `<file>.headers.json` (fetchedAt, finalUrl, etag, ...) supplies the
original URL and fetch time when present; otherwise the file's URI and, as its fetch time,
the UTC stamp its name starts with (`20250625T095028Z_alerts.json`, as git-scraped snapshot
archives are named), else its modification time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from scrapers.jsondoc import clean_text
from scrapers.plausible import plausible
from scrapers.records import RawDoc

SIDECAR_SUFFIX = ".headers.json"
MAX_FILE_BYTES = 64 * 1024 * 1024  # same order as the fetcher's cap; larger files are refused
MAX_SIDECAR_BYTES = 1024 * 1024  # real sidecars are < 2 KB of headers
# A name that starts with its snapshot's UTC time: two snapshots that state the same times
# (Vultr's alerts.json when only a status changed) are told apart by it, not by copy order.
_NAME_STAMP = re.compile(r"^(\d{8}T\d{6}Z)[_.-]")


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and every file under folders named, sorted; sidecars and dotfiles skipped."""
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if not child.name.endswith(SIDECAR_SUFFIX):
                    yield child
        else:
            yield path


def read_recorded(path: Path) -> RawDoc:
    """Read one recorded payload; OSError propagates for the caller to report."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise OSError(f"file larger than {MAX_FILE_BYTES} bytes")
    body = path.read_bytes()
    meta = _sidecar(path)
    fetched = _parse_time(meta.get("fetchedAt") or meta.get("observed_at"))
    if fetched is None and (named := _NAME_STAMP.match(path.name)):
        try:
            fetched = datetime.strptime(named.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:  # a name like 20261399T...: not a time, the file's own time serves
            fetched = None
    if fetched is None:
        fetched = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    url = meta.get("finalUrl") or meta.get("url") or path.resolve().as_uri()
    return RawDoc(
        body=body,
        url=str(url),
        fetched_at=fetched,
        status=_status(meta.get("status")),
        content_type=meta.get("contentType"),
        etag=meta.get("etag"),
        last_modified=meta.get("lastModified"),
    )


def has_recorded_time(path: Path) -> bool:
    """Whether an archiver's sidecar states when it fetched the file (fetchedAt or
    observed_at, plausible): only then is the RawDoc's fetched_at a recorded fetch time, not
    the file's own."""
    meta = _sidecar(path)
    return _parse_time(meta.get("fetchedAt") or meta.get("observed_at")) is not None


def _sidecar(path: Path) -> dict:
    """The sidecar's fields, or {} when it is absent or unreadable: a sidecar is a hint, and a
    hostile one (nested 100,000 deep, too large, not JSON) must not stop the import."""
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
            return {}
        data = json.loads(sidecar.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    # only short string fields (and the status) are read; anything else is as if absent
    return {
        k: clean_text(v) if isinstance(v, str) else v
        for k, v in data.items()
        if (isinstance(v, str) and len(v) <= 4096) or (k == "status" and type(v) is int)
    }


def _status(value: object) -> int:
    """The recorded HTTP status, or 200 when absent or not a status code."""
    if isinstance(value, str) and value.isdigit() and len(value) == 3:
        value = int(value)
    return value if isinstance(value, int) and 100 <= value <= 599 else 200


def _parse_time(value: object) -> datetime | None:
    """An ISO time from the sidecar, or None when it is unreadable or implausible (year 1
    overflowed later date arithmetic; see scrapers.plausible for the bounds)."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        stamp = stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return stamp if plausible(stamp, now=datetime.now(UTC)) else None
