"""`scrapers.archive.Archive`: content-addressed blobs and the append-only manifest."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scrapers.archive import Archive, ArchiveEntry, CorruptBlobError
from scrapers.fetch import Validators
from tests.conftest import recorded

T0 = datetime(2025, 10, 7, 21, 23, 0, 123456, tzinfo=UTC)
URL = "https://www.githubstatus.com/api/v2/incidents.json"


doc = recorded(URL, T0)


def manifest_lines(root: Path) -> list[bytes]:
    return (root / "manifest.jsonl").read_bytes().splitlines(keepends=True)


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "objects").rglob("*") if p.is_file())


def test_root_is_created_lazily(tmp_path: Path):
    archive = Archive(tmp_path / "raw")
    assert list(archive.entries()) == []
    assert archive.validators(URL) is None
    assert not (tmp_path / "raw").exists()


def test_put_get_load_round_trip(tmp_path: Path):
    archive = Archive(tmp_path)
    original = doc(
        b'{"incidents": []}',
        status=203,
        content_type="application/json",
        etag='W/"abc"',
        last_modified="Tue, 07 Oct 2025 21:23:00 GMT",
    )
    assert archive.put(original, source="statuspage:github") is True

    assert archive.get(original.sha256) == original.body
    assert original.sha256 in archive
    [entry] = list(archive.entries())
    assert entry == ArchiveEntry(
        sha256=original.sha256,
        url=URL,
        fetched_at=T0,
        status=203,
        content_type="application/json",
        etag='W/"abc"',
        last_modified="Tue, 07 Oct 2025 21:23:00 GMT",
        source="statuspage:github",
        size=len(original.body),
    )
    loaded = archive.load(entry)
    assert loaded == original and loaded.sha256 == original.sha256
    # Layout: objects/<first two hex>/<the rest>.
    assert blob_files(tmp_path) == [tmp_path / "objects" / entry.sha256[:2] / entry.sha256[2:]]


def test_put_is_idempotent_even_across_instances(tmp_path: Path):
    archive = Archive(tmp_path)
    assert archive.put(doc(b"one"), source="s") is True
    before = (tmp_path / "manifest.jsonl").read_bytes()
    assert archive.put(doc(b"one"), source="s") is False
    # A fresh instance (fresh lazy index) must agree, even with a later fetch time.
    assert Archive(tmp_path).put(doc(b"one", at=T0 + timedelta(hours=1)), source="x") is False
    assert (tmp_path / "manifest.jsonl").read_bytes() == before
    assert len(blob_files(tmp_path)) == 1


def test_same_body_at_two_urls_is_one_blob_two_entries(tmp_path: Path):
    archive = Archive(tmp_path)
    assert archive.put(doc(b"same", url="https://a.example/x"), source="s")
    blob = blob_files(tmp_path)[0]
    mtime = blob.stat().st_mtime_ns
    assert archive.put(doc(b"same", url="https://b.example/x"), source="s")
    assert blob_files(tmp_path) == [blob] and blob.stat().st_mtime_ns == mtime  # not rewritten
    assert [e.url for e in archive.entries()] == ["https://a.example/x", "https://b.example/x"]


def test_entries_are_in_append_order(tmp_path: Path):
    archive = Archive(tmp_path)
    bodies = [b"c", b"a", b"b"]
    for i, body in enumerate(bodies):
        archive.put(doc(body, url=f"https://x.example/{i}"), source="s")
    assert [archive.get(e.sha256) for e in archive.entries()] == bodies


def test_blob_write_leaves_no_temp_files(tmp_path: Path):
    archive = Archive(tmp_path)
    for i in range(5):
        archive.put(doc(f"body {i}".encode(), url=f"https://x.example/{i}"), source="s")
    names = [p.name for p in blob_files(tmp_path)]
    assert len(names) == 5 and not any(n.startswith(".tmp") for n in names)
    assert all(len(n) == 62 for n in names)


def test_failed_blob_write_leaves_neither_blob_nor_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    archive = Archive(tmp_path)
    body = b"never lands"
    with pytest.raises(OSError, match="disk full"):
        archive.put(doc(body), source="s")
    assert blob_files(tmp_path) == []  # no temp left, no half blob visible
    assert hashlib.sha256(body).hexdigest() not in archive
    assert not (tmp_path / "manifest.jsonl").exists()  # the blob comes before its line


def test_truncated_last_manifest_line_is_skipped_and_healed(tmp_path: Path):
    archive = Archive(tmp_path)
    archive.put(doc(b"kept"), source="s")
    with (tmp_path / "manifest.jsonl").open("ab") as handle:
        handle.write(b'{"sha256": "ab12')  # a crash mid-write: no newline
    reader = Archive(tmp_path)
    assert [e.url for e in reader.entries()] == [URL]
    # The next writer terminates the fragment, so its own line survives intact.
    assert reader.put(doc(b"after", url="https://x.example/after"), source="s") is True
    assert [e.url for e in Archive(tmp_path).entries()] == [URL, "https://x.example/after"]
    assert len(manifest_lines(tmp_path)) == 3  # good, fragment, good


def test_garbled_lines_and_missing_blobs_are_skipped(tmp_path: Path):
    archive = Archive(tmp_path)
    archive.put(doc(b"gone", url="https://x.example/gone"), source="s")
    archive.put(doc(b"here", url="https://x.example/here"), source="s")
    with (tmp_path / "manifest.jsonl").open("ab") as handle:
        handle.write(b"not json\n[1, 2]\n\n")
        bad = {
            "sha256": "../../etc/passwd",
            "url": "u",
            "fetched_at": T0.isoformat(),
            "status": 200,
            "source": "s",
            "size": 1,
        }
        handle.write(json.dumps(bad).encode() + b"\n")
    (tmp_path / "objects").joinpath(
        hashlib.sha256(b"gone").hexdigest()[:2], hashlib.sha256(b"gone").hexdigest()[2:]
    ).unlink()  # simulate damage; the archive itself never deletes
    assert [e.url for e in Archive(tmp_path).entries()] == ["https://x.example/here"]


def test_corrupt_blob_is_detected_by_get(tmp_path: Path):
    archive = Archive(tmp_path)
    original = doc(b"the real bytes")
    archive.put(original, source="s")
    [blob] = blob_files(tmp_path)
    blob.write_bytes(b"the rea1 bytes")
    with pytest.raises(CorruptBlobError) as info:
        archive.get(original.sha256)
    assert original.sha256 in str(info.value) and "\n" not in str(info.value)
    [entry] = list(archive.entries())
    with pytest.raises(ValueError):  # CorruptBlobError is one, for callers catching ValueError
        archive.load(entry)


def test_get_unknown_or_malformed_hash_raises_key_error(tmp_path: Path):
    archive = Archive(tmp_path)
    archive.put(doc(b"x"), source="s")
    for key in ["0" * 64, "../manifest.jsonl", "ABC", ""]:
        with pytest.raises(KeyError):
            archive.get(key)
        assert key not in archive


def test_validators_come_from_the_latest_fetch(tmp_path: Path):
    archive = Archive(tmp_path)
    archive.put(doc(b"v1", at=T0, etag='"1"'), source="s")
    archive.put(doc(b"v2", at=T0 + timedelta(hours=2), etag='"2"', last_modified="LM2"), source="s")
    # An import may append an older fetch later; it must not win.
    archive.put(doc(b"v0", at=T0 - timedelta(days=1), etag='"0"'), source="import")
    archive.put(doc(b"other", url="https://x.example/nolv"), source="s")

    assert archive.validators(URL) == Validators(etag='"2"', last_modified="LM2")
    assert Archive(tmp_path).validators(URL) == Validators(etag='"2"', last_modified="LM2")
    assert archive.validators("https://x.example/nolv") is None  # nothing to send
    assert archive.validators("https://never.example/") is None


def test_validators_see_lines_appended_by_another_instance(tmp_path: Path):
    first, second = Archive(tmp_path), Archive(tmp_path)
    first.put(doc(b"v1", etag='"1"'), source="s")
    assert second.validators(URL) == Validators(etag='"1"')
    first.put(doc(b"v2", at=T0 + timedelta(minutes=5), etag='"2"'), source="s")
    assert second.validators(URL) == Validators(etag='"2"')


def test_naive_or_inconsistent_docs_are_refused(tmp_path: Path):
    archive = Archive(tmp_path)
    with pytest.raises(ValueError, match="timezone-aware"):
        archive.put(doc(b"x", at=datetime(2025, 1, 1)), source="s")
    with pytest.raises(ValueError, match="sha256"):
        archive.put(doc(b"x", sha256="0" * 64), source="s")
    assert not (tmp_path / "manifest.jsonl").exists()


def test_non_utc_times_are_stored_as_utc(tmp_path: Path):
    archive = Archive(tmp_path)
    local = T0.astimezone(timezone(timedelta(hours=2)))
    archive.put(doc(b"x", at=local), source="s")
    [entry] = list(archive.entries())
    assert entry.fetched_at == T0 and entry.fetched_at.utcoffset() == timedelta(0)


def _put_many(root: str, items: list[int], go: multiprocessing.synchronize.Event) -> None:
    archive = Archive(Path(root))
    go.wait()
    for i in items:
        archive.put(doc(f"payload {i}".encode(), url=f"https://x.example/{i}"), source="proc")


def test_two_processes_appending_at_once_keep_the_manifest_whole(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    # 200 puts each. Both start with the same 100 items, in step, so they race on every one
    # of them; each must still be recorded exactly once.
    shared = list(range(100, 200))
    workers = [
        ctx.Process(target=_put_many, args=(str(tmp_path), [*shared, *range(100)], go)),
        ctx.Process(target=_put_many, args=(str(tmp_path), [*shared, *range(200, 300)], go)),
    ]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    lines = manifest_lines(tmp_path)
    assert len(lines) == 300
    assert all(line.endswith(b"\n") and json.loads(line)["source"] == "proc" for line in lines)
    entries = list(Archive(tmp_path).entries())
    assert sorted(e.url for e in entries) == sorted(f"https://x.example/{i}" for i in range(300))
    assert len(blob_files(tmp_path)) == 300
    assert all(Archive(tmp_path).get(e.sha256) for e in entries)
