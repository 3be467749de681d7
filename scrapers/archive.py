"""Content-addressed store of raw payloads, plus an append-only manifest of where they came from.

Layout under `root`:
- `objects/ab/cdef...`: each distinct body once, named by its sha256 (first two hex digits
  as a folder, so no folder grows huge). Written atomically: temp file in the same folder,
  then `os.replace`; a reader never sees half a blob. Durability is batched: `sync()`
  fsyncs what was written since the last call (the pipeline calls it before each commit).
- `manifest.jsonl`: one JSON line per distinct (sha256, url) pair, in append order, plus one
  more each time a URL answers bytes already archived with new validators (ETag,
  Last-Modified), so that the next conditional GET sends the newest ones and gets its 304.
  Fetching the same bytes with the same validators again adds nothing. Lines are appended
  with a single `os.write` on an `O_APPEND` descriptor under an exclusive `flock`, so two
  processes archiving at once never interleave or duplicate lines.

Nothing here deletes or rewrites a blob or a manifest line: the archive is the ground truth
the knowledge base can always be rebuilt from. Readers skip what a crash can leave behind
(a garbled or unterminated line, a line whose blob is missing) instead of failing.
Only 200-family payloads are archived; a 304 has no body and adds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapers.errors import ScraperError
from scrapers.fetch import Validators
from scrapers.records import RawDoc

__all__ = ["Archive", "ArchiveEntry", "CorruptBlobError"]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")


class CorruptBlobError(ScraperError, ValueError):
    """A stored blob no longer hashes to its name (disk damage, a stray edit).

    Also a ValueError, so callers that treat "unreadable archive item" as ValueError (as
    `kb.pipeline.reparse` does) skip it and go on."""


@dataclass(frozen=True)
class ArchiveEntry:
    """One manifest line: a body (by hash) and one place and time it was fetched from."""

    sha256: str
    url: str
    fetched_at: datetime  # UTC
    status: int
    content_type: str | None
    etag: str | None
    last_modified: str | None
    source: str  # who archived it: a scraper name, "import:<path>", ...
    size: int  # bytes in the blob

    def to_json(self) -> str:
        """The manifest line, without its newline. ASCII-only, so always one line."""
        data = {
            "sha256": self.sha256,
            "url": self.url,
            "fetched_at": self.fetched_at.isoformat(),
            "status": self.status,
            "content_type": self.content_type,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "source": self.source,
            "size": self.size,
        }
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes) -> ArchiveEntry:
        """Parse a manifest line; raises ValueError (or a subclass) if it is not a valid entry."""
        data: Any = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        sha = data["sha256"]
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError("bad sha256")  # also keeps crafted lines out of the filesystem
        fetched_at = datetime.fromisoformat(data["fetched_at"])
        if fetched_at.tzinfo is None:
            raise ValueError("naive fetched_at")
        entry = cls(
            sha256=sha,
            url=data["url"],
            fetched_at=fetched_at,
            status=data["status"],
            content_type=data.get("content_type"),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            source=data["source"],
            size=data["size"],
        )
        checks = (
            (entry.url, str),
            (entry.source, str),
            (entry.status, int),
            (entry.size, int),
            (entry.content_type, (str, type(None))),
            (entry.etag, (str, type(None))),
            (entry.last_modified, (str, type(None))),
        )
        if not all(isinstance(value, kind) for value, kind in checks):
            raise ValueError("field of the wrong type")
        return entry


class Archive:
    """The raw payload store at `root` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._manifest = self.root / "manifest.jsonl"
        # Loaded lazily, then kept current by reading only what was appended since.
        self._pairs: set[tuple[str, str]] = set()
        self._latest: dict[str, ArchiveEntry] = {}  # url -> most recently fetched entry
        self._offset = 0  # manifest bytes already folded into the two indexes
        # Written but not yet fsynced (see sync()): paths of blobs, their folders, manifest.
        self._unsynced: set[Path] = set()

    def put(self, doc: RawDoc, *, source: str) -> bool:
        """Store `doc`'s body and record where it came from.

        Returns True if this (sha256, url) pair is new; False if it was already archived.
        Then nothing is written (importing the same data twice changes nothing), except one
        line when this is now the URL's newest fetch and its validators differ from the ones
        on record: a server may change its ETag without changing the bytes.
        """
        fetched_at = doc.fetched_at
        if fetched_at.tzinfo is None:
            raise ValueError(f"{doc.url}: fetched_at must be timezone-aware")
        sha = hashlib.sha256(doc.body).hexdigest()
        if doc.sha256 != sha:
            raise ValueError(f"{doc.url}: sha256 does not match the body")
        self._refresh()
        known = (sha, doc.url) in self._pairs and sha in self
        if known and not self._news_for_validators(doc.url, fetched_at, doc.etag,
                                                   doc.last_modified):
            return False  # fast path for re-imports: no lock, no write
        if not known:
            self._write_blob(sha, doc.body)
        entry = ArchiveEntry(
            sha256=sha,
            url=doc.url,
            fetched_at=fetched_at.astimezone(UTC),
            status=doc.status,
            content_type=doc.content_type,
            etag=doc.etag,
            last_modified=doc.last_modified,
            source=source,
            size=len(doc.body),
        )
        return self._append(entry)

    def get(self, sha256: str) -> bytes:
        """The body stored under `sha256`, verified. KeyError if absent, CorruptBlobError if
        the bytes no longer match their hash (a corrupt blob is never returned)."""
        path = self._blob_path(sha256)
        if path is None:
            raise KeyError(sha256)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(sha256) from None
        actual = hashlib.sha256(body).hexdigest()
        if actual != sha256:
            raise CorruptBlobError(str(path), f"blob hashes to {actual}, not {sha256}")
        return body

    def load(self, entry: ArchiveEntry) -> RawDoc:
        """The `RawDoc` an entry describes, body included."""
        return RawDoc(
            body=self.get(entry.sha256),
            url=entry.url,
            fetched_at=entry.fetched_at,
            status=entry.status,
            content_type=entry.content_type,
            etag=entry.etag,
            last_modified=entry.last_modified,
            sha256=entry.sha256,
        )

    def entries(self) -> Iterator[ArchiveEntry]:
        """Every archived payload once, in append order: the first usable line of each
        (sha256, url) pair (when those bytes were first fetched from there). Lines that only
        refreshed a URL's validators feed `validators`, not this.

        Streams the file (no lock held between yields, so callers may `put` meanwhile).
        Skips garbled lines, an unterminated last line (a crash, or a writer still busy)
        and entries whose blob is missing.
        """
        try:
            handle = self._manifest.open("rb")
        except FileNotFoundError:
            return
        seen: set[tuple[str, str]] = set()
        with handle:
            for line in handle:
                entry = self._parse(line)
                if entry is None or (entry.sha256, entry.url) in seen:
                    continue
                if entry.sha256 in self:
                    seen.add((entry.sha256, entry.url))
                    yield entry

    def validators(self, url: str) -> Validators | None:
        """ETag / Last-Modified of the most recently fetched body of `url`, for a conditional
        GET; None when there is none to send (never fetched, blob missing, no validators)."""
        self._refresh()
        entry = self._latest.get(url)
        if entry is None or (entry.etag is None and entry.last_modified is None):
            return None
        if entry.sha256 not in self:  # a 304 would point at a body we cannot load
            return None
        return Validators(etag=entry.etag, last_modified=entry.last_modified)

    def __contains__(self, sha256: object) -> bool:
        """Whether a blob is stored under `sha256` (existence only; `get` verifies)."""
        path = self._blob_path(sha256) if isinstance(sha256, str) else None
        return path is not None and path.is_file()

    # -- blobs ---------------------------------------------------------------------------

    def _blob_path(self, sha256: str) -> Path | None:
        if not _SHA256.fullmatch(sha256):
            return None
        return self._objects / sha256[:2] / sha256[2:]

    def _write_blob(self, sha: str, body: bytes) -> None:
        path = self._blob_path(sha)
        assert path is not None  # sha comes from hexdigest()
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size == len(body):  # same bytes, same name: nothing to write
                return
            # else: a blob cut short by a crash before sync(); write it again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            # Atomic: readers see no blob or the whole blob. A concurrent writer of the same
            # hash replaces identical bytes, which is harmless.
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._unsynced.update((path, path.parent))

    def sync(self) -> None:
        """Make everything put so far durable: fsync the new blobs, their folders (so the
        renames survive a power cut) and the manifest.

        Why batched: one fsync per blob made a 1,282-file import spend 1.5 s in fsync. Callers
        sync once before committing database rows that refer to the blobs. Until then a crash
        can lose recent blobs but never passes off a damaged one: `get` verifies the hash and
        `put` rewrites a blob whose size is wrong.
        """
        pending, self._unsynced = self._unsynced, set()
        for path in sorted(pending, key=lambda p: (p.is_dir(), str(p))):  # files, then folders
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- manifest ------------------------------------------------------------------------

    def _append(self, entry: ArchiveEntry) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
            # Another process may have appended since we last looked: catch up under the
            # lock so the duplicate check below sees every line.
            self._refresh()
            known = (entry.sha256, entry.url) in self._pairs
            if known and not self._news_for_validators(entry.url, entry.fetched_at, entry.etag,
                                                       entry.last_modified):
                return False  # another process recorded the same meanwhile
            line = entry.to_json().encode("ascii") + b"\n"
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A writer crashed mid-line. Terminate its fragment so it stays one garbled
                # (skipped) line instead of swallowing ours.
                line = b"\n" + line
            os.write(fd, line)  # one write on O_APPEND: lands whole, at the end
            self._unsynced.add(self._manifest)
            self._index(entry)
            return not known
        finally:
            os.close(fd)

    def _news_for_validators(self, url: str, fetched_at: datetime, etag: str | None,
                             last_modified: str | None) -> bool:
        """Whether a fetch of bytes already archived for `url` must still be recorded: it is
        the URL's newest fetch and says other validators than the newest line does. An
        older fetch (an import of old files) could never win, so it is not recorded."""
        latest = self._latest.get(url)
        if latest is None or fetched_at < latest.fetched_at:
            return False
        return (etag, last_modified) != (latest.etag, latest.last_modified)

    def _refresh(self) -> None:
        """Fold manifest lines appended since the last call into the in-memory indexes."""
        try:
            handle = self._manifest.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(self._offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # unterminated: a writer still busy, or a crash; look again later
                self._offset += len(line)
                entry = self._parse(line)
                if entry is not None:
                    self._index(entry)

    def _index(self, entry: ArchiveEntry) -> None:
        self._pairs.add((entry.sha256, entry.url))
        latest = self._latest.get(entry.url)
        # By fetch time, not append order: an import may append old fetches after newer
        # ones. On a tie the later line wins.
        if latest is None or entry.fetched_at >= latest.fetched_at:
            self._latest[entry.url] = entry

    def _parse(self, line: bytes) -> ArchiveEntry | None:
        if not line.endswith(b"\n"):
            return None  # cut short by a crash, or still being written
        if not line.strip():
            return None
        try:
            return ArchiveEntry.from_json(line)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: skipping unreadable manifest line (%s)", self._manifest, exc)
            return None
