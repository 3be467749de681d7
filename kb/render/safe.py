"""The sanitising layer: every scraped string passes through here before it reaches a page.

Scraped text is third-party input. The site is Markdown that mkdocs turns into HTML, so a
value is dangerous twice: as HTML (`<script>`, `onerror=`) and as Markdown (`[x](javascript:)`,
`{: onclick=...}`). The rule the templates follow, and this module makes easy:

- scraped values appear only *inside raw HTML blocks* of the generated Markdown, where
  Python-Markdown does no Markdown processing, and are HTML-escaped there (jinja2 autoescape);
- HTML bodies are cleaned by nh3 with a strict allow-list (`clean_html`), never passed through;
- links are kept only for absolute http(s) URLs (`safe_href`); anything else is shown as text;
- control characters are dropped and bidirectional overrides made visible (`clean_text`), so a
  right-to-left override can neither reorder the page nor hide what a title says;
- the one value mkdocs itself prints unescaped, the front-matter title, goes through
  `front_matter_title` (HTML-escaped, clipped, YAML-quoted).
"""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from markupsafe import Markup, escape

if TYPE_CHECKING:
    import markdown
    import nh3

# C0 controls except tab and newline, DEL, C1 controls, and the two non-characters.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
# Lone surrogates come out of JSON (`"\ud800"`) and cannot be encoded as UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Embeddings, overrides and isolates (the "Trojan Source" characters). LRM/RLM are kept: they
# only mark direction and cannot reorder a run of text.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
# File names mkdocs treats specially (an incident called "index" must not become the folder's
# index page).
_RESERVED = frozenset({"index", "readme"})
# What a hashed segment ends with: a plain id that looks like one is hashed too, so a crafted
# id cannot take the file of another one.
_HASHED = re.compile(r"-[0-9a-f]{8}$")

# Tags a vendor's HTML update body may keep. No images (tracking pixels, onerror), no tables
# (layout), no headings (they would join the page's table of contents), no pre (its newlines
# would end the raw HTML block).
ALLOWED_TAGS = frozenset({
    "a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "strong", "ul",
})


def clean_text(value: object) -> str:
    """Plain text safe to show: controls dropped, bidi overrides shown as `[U+202E]`."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return text  # the common case, and the hot path: nothing to drop or show
    text = _SURROGATES.sub("\ufffd", text)
    text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def clip(value: object, limit: int) -> str:
    """`clean_text(value)` cut to `limit` characters, with an ellipsis when cut."""
    text = clean_text(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(value: object, limit: int = 300) -> str:
    """Clean text on a single line (titles, labels), clipped."""
    return clip(" ".join(clean_text(value).split()), limit)


def safe_href(url: object) -> str | None:
    """The URL when it is an absolute http(s) URL a person may follow, else None.

    The caller still escapes it (jinja2 autoescape does in attribute values)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or len(url) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@lru_cache(maxsize=3)
def _cleaner(tags: frozenset[str] = ALLOWED_TAGS, document: bool = False) -> nh3.Cleaner:
    """The one sanitising policy. Only the allowed tags differ between bodies, prose and a
    standalone draft page (`document`), which also keeps the ids and in-page links of its
    footnotes (within the site, a relative link would point into the site: denied)."""
    import nh3

    return nh3.Cleaner(
        tags=set(tags),
        clean_content_tags={"script", "style", "template", "iframe", "object", "noscript",
                            "textarea", "title", "svg", "math"},
        attributes={"a": {"href", "title", "id"}, "li": {"id"}, "sup": {"id"}} if document
        else {"a": {"href", "title"}},
        url_schemes={"http", "https"},
        url_relative="pass_through" if document else "deny",
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def clean_html(body: object) -> Markup:
    """A vendor's HTML body reduced to the allow-list, ready to embed in a raw HTML block.

    Newlines become spaces because a blank line would end the raw HTML block that protects
    the text from Markdown processing."""
    return Markup(" ".join(_cleaner().clean(clean_text(body)).split()))


PROSE_TAGS = ALLOWED_TAGS | {"h3", "h4", "hr", "sup", "table", "thead", "tbody", "tr", "th",
                             "td"}


# Tags of a standalone HTML postmortem draft (kb postmortem --format html).
DOCUMENT_TAGS = PROSE_TAGS | {"h1", "h2", "section", "pre"}


def clean_document(fragment: str) -> str:
    """The body of a standalone HTML page (a postmortem draft) reduced to `DOCUMENT_TAGS`,
    footnote ids and in-page links kept."""
    return _cleaner(DOCUMENT_TAGS, document=True).clean(fragment)


_BACKLINK = re.compile(r'(?:&#160;)?<a class="footnote-backref"[^>]*></a>')


_ENGINES = threading.local()  # a Markdown instance keeps state between calls: one per thread


def _markdown() -> markdown.Markdown:
    if (engine := getattr(_ENGINES, "engine", None)) is None:
        import markdown

        engine = _ENGINES.engine = markdown.Markdown(
            extensions=["tables", "footnotes"],
            extension_configs={"footnotes": {"SUPERSCRIPT_TEXT": "[{}]", "BACKLINK_TEXT": ""}})
        # kb.drafts.render.md_escape writes CommonMark's escapes; without these
        # Python-Markdown would print `\<`, `\&`, `\~`, `\=` with their backslash.
        engine.ESCAPED_CHARS = [*engine.ESCAPED_CHARS, "<", "&", "~", "=", "|"]
    return engine


def markdown_html(text: str) -> str:
    """The one Markdown engine: Python-Markdown as mkdocs runs it, with tables and footnotes
    (markers shown as "[n]", no back-links). The HTML is not sanitised: callers clean it."""
    html = _markdown().reset().convert(text)
    return _BACKLINK.sub("", html) if "footnote-backref" in html else html


def clean_prose(markdown_text: object) -> Markup:
    """Markdown from a feature (a postmortem draft) as HTML reduced to `PROSE_TAGS`.

    Headings are demoted to h3/h4 so they stay below the page's own sections; raw HTML in
    the Markdown goes through the same cleaner as everything else."""
    html = markdown_html(clean_text(markdown_text))
    html = re.sub(r"<(/?)h[12]\b", r"<\1h3", html)
    html = re.sub(r"<(/?)h[56]\b", r"<\1h4", html)
    return Markup(" ".join(_cleaner(PROSE_TAGS).clean(html).split()))


def looks_like_html(body: str) -> bool:
    """True when a body carries markup worth keeping (lists, emphasis, links)."""
    return bool(re.search(r"<(ul|ol|li|p|br|strong|b|em|i|a|code|blockquote)\b", body, re.I))


def rich_text(body: str, text: str) -> Markup:
    """An update as HTML: the sanitised body when it is HTML, else the escaped plain text
    (its line breaks kept by CSS `white-space: pre-line`)."""
    if looks_like_html(body):
        return clean_html(body)
    return escape(clean_text(text)).replace("\n", Markup("<br>"))


def front_matter_title(title: object, limit: int = 120) -> str:
    """A YAML double-quoted scalar for the `title:` front matter.

    mkdocs-material prints `page.meta.title` unescaped (in <title>, the header and search
    results), so the value is HTML-escaped here; it is clipped so a 10,000-character title
    cannot swell every listing; characters YAML would read as line breaks are escaped."""
    html = str(escape(one_line(title, limit)))
    out = ['"']
    for ch in html:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code in (0x85, 0x2028, 0x2029) or code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def path_segment(value: str) -> str:
    """A file-system and URL safe name for a provider slug, incident id or component.

    Plain ids (letters, digits, `-`, `_`) are kept as they are, so permalinks read
    /incidents/github/zzm4nczlpjyy/; anything else (slashes, dots, spaces, unicode, names
    mkdocs reserves) becomes a readable slug plus a short hash, stable across builds."""
    if (_SAFE_SEGMENT.fullmatch(value) and value.lower() not in _RESERVED
            and not _HASHED.search(value)):
        return value
    slug = re.sub(r"[^a-z0-9]+", "-", clean_text(value).lower()).strip("-")[:40] or "x"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}"
