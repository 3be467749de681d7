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

from scrapers.records import RawDoc

SIDECAR_SUFFIX = ".headers.json"
MAX_FILE_BYTES = 64 * 1024 * 1024  # same order as the fetcher's cap; larger files are refused
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
        fetched = datetime.strptime(named.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if fetched is None:
        fetched = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    url = meta.get("finalUrl") or meta.get("url") or path.resolve().as_uri()
    return RawDoc(
        body=body,
        url=str(url),
        fetched_at=fetched,
        status=int(meta.get("status") or 200) if str(meta.get("status", "200")).isdigit() else 200,
        content_type=meta.get("contentType"),
        etag=meta.get("etag"),
        last_modified=meta.get("lastModified"),
    )


def _sidecar(path: Path) -> dict:
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
