"""Annotated postmortem documents (Markdown with YAML front matter) → PostmortemRecords.

The format of icco/postmortems (`shared/corpus/postmortems/icco/data/*.md`, see its
SOURCES.md): a front matter between `---` lines with `uuid`, `url`, `title`, `company`,
`product`, `start_time`/`end_time`, `categories`, `keywords`, `summary`, then the body.
Recognised by content: a front matter naming a `url` and a `company` or `product`, and a
`uuid`.

What is read as stated, never inferred: a missing or unreadable time stays unknown (a note
says which); a time centuries off (the corpus has 1628 and 1969 write-ups: a ship and a moon
landing) is kept as stated, since it is what the write-up says; deciding what such a time can
be matched against is kb.postmortems' job. Front matter is read with YAML's base loader: every
scalar a string, no type guessing, no object construction.
"""

from __future__ import annotations

from typing import Any

import yaml

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import clean_text, parse_time
from scrapers.records import ParsedDoc, PostmortemRecord, RawDoc

NAME = "postmortem_doc"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "postmortems"
SOURCE = "icco"
MAX_FRONT_MATTER = 65536  # bytes; a larger "front matter" is not one
TEXT_CHARS = 60000  # body kept for display and search (the archive keeps it whole)
_TIMES = ("start_time", "end_time", "source_published_at")


def _split(text: str) -> tuple[str, str] | None:
    """(front matter, body) of a `---`-fenced document, or None."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return None
    first, _, rest = text.partition("\n")
    if first.strip() != "---":
        return None
    end = rest.find("\n---")
    if rest.startswith("---"):
        end = -1
    if end < 0 or end > MAX_FRONT_MATTER:
        return None
    front = rest[:end]
    body = rest[end + 4:].partition("\n")[2]
    return front, body


def sniff(body: bytes) -> bool:
    """Markdown whose front matter has a uuid, a url and a company or product."""
    head = head_text(body, MAX_FRONT_MATTER + 64)
    split = _split(head)
    if split is None:
        return False
    keys = {line.partition(":")[0].strip() for line in split[0].splitlines()
            if line[:1].isalpha()}
    return {"uuid", "url"} <= keys and bool(keys & {"company", "product"})


def _string(front: dict[str, Any], key: str) -> str | None:
    value = front.get(key)
    if not isinstance(value, str):
        return None
    value = " ".join(clean_text(value).split())
    return value or None


def _strings(front: dict[str, Any], key: str) -> tuple[str, ...]:
    value = front.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    out = [" ".join(clean_text(v).split()) for v in value if isinstance(v, str)]
    return tuple(dict.fromkeys(v for v in out if v))


def parse(doc: RawDoc) -> ParsedDoc:
    """One PostmortemRecord; a document without a url or uuid is refused (one line)."""
    try:
        text = doc.body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(doc.url, f"postmortem document is not UTF-8 ({error.reason})") from None
    split = _split(text)
    if split is None:
        raise ParseError(doc.url, "postmortem document has no closed front matter")
    try:
        front = yaml.load(split[0], Loader=yaml.BaseLoader)
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())[:160]
        raise ParseError(doc.url, f"front matter is not YAML ({reason})") from None
    if not isinstance(front, dict):
        raise ParseError(doc.url, "front matter is not a mapping")
    uuid, url = _string(front, "uuid"), _string(front, "url")
    if not uuid or not url:
        raise ParseError(doc.url, "postmortem front matter names no uuid or no url")
    notes: list[str] = []
    times = {}
    for key in _TIMES:
        raw = _string(front, key)
        value = parse_time(raw) if raw else None
        if raw and value is None:
            notes.append(f"{key} {raw[:40]!r} is not a readable time; left unknown")
        times[key] = value
    start, end = times["start_time"], times["end_time"]
    if start and end and end < start:
        notes.append(f"end_time {end.isoformat()} is before start_time; end left unknown")
        end = None
    company, product = _string(front, "company"), _string(front, "product")
    body = clean_text(split[1]).strip()
    summary = clean_text(front["summary"]).strip() if isinstance(front.get("summary"),
                                                                 str) else ""
    title = (_string(front, "title") or _first_sentence(summary or body)
             or " ".join(filter(None, (company, product))) or url)
    record = PostmortemRecord(
        source=SOURCE, native_id=uuid[:200], url=url, title=title[:300],
        company=company, product=product, start=start, end=end,
        published_at=times["source_published_at"],
        categories=_strings(front, "categories"), keywords=_strings(front, "keywords"),
        summary=summary[:4000], text=body[:TEXT_CHARS],
        archive_url=_string(front, "archive_url"), notes=tuple(notes))
    return ParsedDoc(format=NAME, postmortems=(record,), provider_hint=PROVIDER_HINT,
                     warnings=tuple(f"{doc.url}: {n}" for n in notes))


def _first_sentence(text: str) -> str:
    """The opening sentence of a summary or body (a title for a document without one)."""
    words = " ".join(text.split())
    cut = words.find(". ")
    return (words[:cut + 1] if 0 < cut < 200 else words[:160]).strip()
