"""A Markdown list of postmortems (danluu/post-mortems' README) → PostmortemRecords.

The list is grouped under `## <category>` headings ("Config Errors", "Time", "Database", ...),
one paragraph per postmortem: `[Company](url). What happened.`, sometimes followed by
`, [see also](url2)` links. Recognised by content: a heading that says it lists post-mortems
and at least five such paragraphs.

Only the category sections are read: "Other lists of postmortems", "Analysis" and
"Contributors" list collections, essays and people, not postmortems. An entry states no time
(its text may name a date in prose; nothing here guesses it) and no product. The category
heading is kept as the entry's category. `native_id` is the write-up's URL, as in the list.
"""

from __future__ import annotations

import re

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import clean_text
from scrapers.records import ParsedDoc, PostmortemRecord, RawDoc

NAME = "postmortem_list"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "postmortems"
SOURCE = "danluu"
MIN_ENTRIES = 5
TEXT_CHARS = 4000
# Sections that are not postmortems (matched on the lower-cased heading).
_NOT_POSTMORTEMS = ("other lists", "analysis", "contributors", "table of contents")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_ENTRY = re.compile(r"^\[(?P<name>[^\]\n]{1,200})\]\((?P<url>https?://[^)\s]{1,2000})\)"
                    r"(?P<rest>.*)$", re.S)
_LINK = re.compile(r"\[([^\]\n]*)\]\((?:[^)\s]*)\)")


def sniff(body: bytes) -> bool:
    """A Markdown page that says it lists post-mortems, with ≥ 5 `[Name](url). text` lines."""
    head = head_text(body, 32768)
    if not re.search(r"^#\s.*post[- ]?mortems?", head, re.I | re.M):
        return False
    return len(re.findall(r"^\[[^\]\n]+\]\(https?://[^)\s]+\)[.,]", head, re.M)) >= MIN_ENTRIES


def _plain(markdown: str) -> str:
    """Link text instead of links, emphasis marks and HTML breaks dropped, one line."""
    text = _LINK.sub(r"\1", markdown)
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.I)
    text = re.sub(r"[*_`]{1,3}", "", text)
    return " ".join(text.split())


def parse(doc: RawDoc) -> ParsedDoc:
    """One record per entry of the category sections; an entry without a link is skipped with
    a warning; the same URL twice in the list is one record (its categories merged)."""
    try:
        text = clean_text(doc.body.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ParseError(doc.url, f"postmortem list is not UTF-8 ({error.reason})") from None
    section: str | None = None
    records: dict[str, PostmortemRecord] = {}
    warnings: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        heading = _HEADING.match(paragraph.split("\n", 1)[0])
        if heading:
            name = _plain(heading.group(2))
            section = None if (len(heading.group(1)) == 1 or name.lower().startswith(
                _NOT_POSTMORTEMS)) else name
            continue
        if section is None or not paragraph.startswith("["):
            continue
        entry = _ENTRY.match(paragraph)
        if entry is None:
            warnings.append(f"{doc.url}: entry {_plain(paragraph)[:60]!r} in {section!r} "
                            "links to no http(s) URL; skipped")
            continue
        url = entry.group("url")
        company = _plain(entry.group("name"))
        rest = _plain(entry.group("rest")).lstrip(".,; ")
        rest = re.sub(r"^(?:see also[,. ]*)+", "", rest, flags=re.I).lstrip(".,; ")
        held = records.get(url)
        if held is not None:
            records[url] = PostmortemRecord(
                **{**_fields(held), "categories": tuple(dict.fromkeys(
                    (*held.categories, section)))})
            continue
        records[url] = PostmortemRecord(
            source=SOURCE, native_id=url, url=url, title=_title(company, rest),
            company=company, categories=(section,), summary=rest[:TEXT_CHARS],
            text=rest[:TEXT_CHARS])
    if not records:
        raise ParseError(doc.url, "postmortem list has no entries under a category heading")
    return ParsedDoc(format=NAME, postmortems=tuple(records.values()),
                     provider_hint=PROVIDER_HINT, warnings=tuple(warnings))


def _fields(record: PostmortemRecord) -> dict:
    return {name: getattr(record, name) for name in PostmortemRecord.__slots__}  # type: ignore[attr-defined]


def _title(company: str, text: str) -> str:
    """"Company: first sentence" — the list gives no titles."""
    words = " ".join(text.split())
    cut = words.find(". ")
    sentence = words[:cut + 1] if 0 < cut < 160 else words[:140]
    return f"{company}: {sentence}".strip(": ") if sentence else company
