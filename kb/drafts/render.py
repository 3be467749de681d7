"""Render a `Draft` with a jinja2 template to Markdown, sanitised HTML, or JSON.

Drafts quote third-party text (status updates, thread titles), so rendering is defensive:
- templates run in a jinja2 `SandboxedEnvironment` (a user's own `--template` file cannot
  reach Python internals);
- Markdown templates escape every plain value they print (`finalize`), so a quoted update
  cannot open a link, an image, raw HTML or a forged footnote; HTML templates (`*.html.j2`)
  use jinja2's autoescape;
- HTML output, from either kind, goes through the site's nh3 policy (kb.render.safe:
  no script, no style attributes, http(s) links only; footnote ids and in-page links kept)
  inside a page whose Content-Security-Policy forbids scripts and remote loads; Markdown
  becomes HTML through the site's one Markdown engine (kb.render.safe.markdown_html).

The helpers templates call (`fact`, `bullets`, `undisclosed`, `timeline_table`,
`footnotes`, ...) exist in a Markdown and an HTML flavour with the same names, so one
template language serves both; templates/README.md documents them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from kb.drafts.citations import MARKER, Citation, CitationKind, Fact, when
from kb.drafts.draft import NOT_DISCLOSED, Draft, Extra, Suggestion, TimelineRow, draft_to_dict
from kb.errors import ConfigError, NotFound
from kb.model import imported_name
from kb.render.safe import clean_document, markdown_html, safe_href
from kb.timefmt import minutes_text

__all__ = ["BUILTIN", "FORMATS", "md_escape", "render_draft"]

BUILTIN = ("sre", "atlassian", "pagerduty")
FORMATS = ("md", "html", "json")
TEMPLATES = Path(__file__).resolve().parent / "templates"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
# Curly quotes inside third-party text become straight ones: drafts use “ ” to mark where a
# quotation starts and ends, and the citation check relies on that.
# Bidirectional overrides are dropped: they can make quoted text read as something else.
_QUOTES = str.maketrans({"“": '"', "”": '"'} | dict.fromkeys(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", ""))
_URL_SAFE = "/:?#[]@!$&'()*+,;=%-._~"
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;line-height:1.5}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}")


def md_escape(value: object) -> str:
    """Plain text as inert Markdown: one line, every inline construct escaped."""
    text = " ".join(str(value).split()).translate(_QUOTES)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&", text)
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    return re.sub(r"^([#+=>-])", r"\\\1", text)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL safe to put in a link (the site's rule, kb.render.safe.safe_href),
    percent-encoded so it cannot end a Markdown link early; else None."""
    target = safe_href(url)
    if target is None:
        return None
    return quote(target, safe=_URL_SAFE).replace("(", "%28").replace(")", "%29")


class _Markdown:
    """Helpers for Markdown templates; everything returned is Markup (already escaped)."""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft

    def esc(self, value: object) -> str:
        return md_escape(value)

    def markers(self, labels: Iterable[str]) -> str:
        return "".join(f"[^{label}]" for label in labels)

    def link(self, text: str, url: str | None) -> Markup:
        target = safe_url(url)
        return Markup(f"[{self.esc(text)}]({target})" if target else self.esc(text))

    def fact(self, fact: Fact) -> Markup:
        text = self.esc(fact.text)
        if fact.quote:
            text = f"“{text}”"
        if fact.lead:
            text = f"{self.esc(fact.lead)} {text}"
        return Markup(text + self.markers(fact.cites))

    def paragraph(self, facts: Iterable[Fact]) -> Markup:
        return Markup(" ".join(self.fact(f) for f in facts))

    def bullets(self, facts: Iterable[Fact], empty: str | None = None) -> Markup:
        lines = [f"- {self.fact(f)}" for f in facts]
        if not lines:
            return Markup(empty or "")
        return Markup("\n".join(lines))

    def undisclosed(self, what: str) -> Markup:
        return Markup(f"_{NOT_DISCLOSED}: {self.esc(what)}. To be filled in by the author._")

    def for_author(self, what: str) -> Markup:
        return Markup(f"_For the author: {self.esc(what)}._")

    def polished(self, section: str, facts: Iterable[Fact], empty: str | None = None,
                 as_list: bool = False) -> Markup:
        """The verified language-model rewrite of a section if there is one, else its facts
        (as a paragraph, or a list with `as_list`); `empty` when there are none."""
        text = self.draft.polished.get(section)
        if text is None:
            facts = list(facts)
            if not facts:
                return Markup(empty or "")
            return self.bullets(facts) if as_list else self.paragraph(facts)
        parts = MARKER.split(text)  # text, label, text, label, ...
        out = [self.esc(p) if i % 2 == 0 else self.markers([p])
               for i, p in enumerate(parts) if p]
        return Markup("".join(out))

    def extra(self, item: Extra) -> Markup:
        """A section of another feature: its facts under a caption, else why there are none."""
        if not item.available or not item.facts:
            return Markup(f"_{self.esc(item.title)}: {self.esc(item.note)}._")
        return Markup(f"{self.esc(item.title)} ({self.esc(item.note)}):\n\n"
                      f"{self.bullets(item.facts)}")

    def suggestions(self, items: Iterable[Suggestion]) -> Markup:
        lines = []
        for s in items:
            lines.append(f"- **{self.esc(s.title)}.** {self.esc(s.text)}")
            lines += [f"    - Why here: {self.fact(f)}" for f in s.why]
        return Markup("\n".join(lines))

    def timeline_table(self, rows: Iterable[TimelineRow]) -> Markup:
        lines = ["| Time (UTC) | Event | What the provider said | Source |",
                 "|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {when(r.at)[:-4]} | {self.esc(r.event)} | {self.esc(r.text)} | "
                         f"{self.markers(r.cites)} |")
        return Markup("\n".join(lines))

    def _payloads(self, c: Citation) -> str:
        items = [f"{self.esc(p.shown)} (sha256 {p.sha256})" for p in c.payloads]
        if not items:
            return ""
        return (" — stored payload: " if len(items) == 1 else " — stored payloads: ") + \
            "; ".join(items)

    def _footnote(self, c: Citation) -> str:
        """What a footnote says: its source, where to read it, the stored payload(s)."""
        if c.kind is CitationKind.PAYLOAD and len(c.payloads) == 1:
            ref = c.payloads[0]
            # An imported file is named, never by its path on this machine (drafts are
            # published on the site and shared).
            name = imported_name(ref.url)
            got = "imported file dated" if name is not None else "fetched"
            return (f"Stored payload ({self.esc(ref.format)}, {got} {when(ref.fetched_at)}): "
                    f"{self.esc(name or ref.url)} (sha256 {ref.sha256})")
        where = f": {self.link(c.url, c.url)}" if c.url and safe_url(c.url) else ""
        return f"{self.esc(c.text)}{where}{self._payloads(c)}"

    def footnotes(self) -> Markup:
        lines = []
        for c in self.draft.citations:
            lines.append(f"[^{c.label}]: {self._footnote(c)}")
        return Markup("\n".join(lines))


class _Html(_Markdown):
    """The same helpers for HTML templates (autoescaped; returned Markup is trusted)."""

    def esc(self, value: object) -> str:
        return html.escape(" ".join(str(value).split()).translate(_QUOTES))

    def markers(self, labels: Iterable[str]) -> str:
        return "".join(f'<sup><a href="#fn-{html.escape(label)}">[{html.escape(label)}]</a></sup>'
                       for label in labels)

    def link(self, text: str, url: str | None) -> Markup:
        target = safe_url(url)
        return Markup(f'<a href="{html.escape(target)}">{self.esc(text)}</a>' if target
                      else self.esc(text))

    def bullets(self, facts: Iterable[Fact], empty: str | None = None) -> Markup:
        items = "".join(f"<li>{self.fact(f)}</li>" for f in facts)
        return Markup(f"<ul>{items}</ul>" if items else f"<p>{empty or ''}</p>")

    def undisclosed(self, what: str) -> Markup:
        return Markup(f"<em>{NOT_DISCLOSED}: {self.esc(what)}. To be filled in by the "
                      "author.</em>")

    def for_author(self, what: str) -> Markup:
        return Markup(f"<em>For the author: {self.esc(what)}.</em>")

    def extra(self, item: Extra) -> Markup:
        if not item.available or not item.facts:
            return Markup(f"<p><em>{self.esc(item.title)}: {self.esc(item.note)}.</em></p>")
        return Markup(f"<p>{self.esc(item.title)} ({self.esc(item.note)}):</p>"
                      f"{self.bullets(item.facts)}")

    def suggestions(self, items: Iterable[Suggestion]) -> Markup:
        out = []
        for s in items:
            why = "".join(f"<li>Why here: {self.fact(f)}</li>" for f in s.why)
            out.append(f"<li><strong>{self.esc(s.title)}.</strong> {self.esc(s.text)}"
                       + (f"<ul>{why}</ul>" if why else "") + "</li>")
        return Markup(f"<ul>{''.join(out)}</ul>")

    def timeline_table(self, rows: Iterable[TimelineRow]) -> Markup:
        body = "".join(
            f"<tr><td>{when(r.at)[:-4]}</td><td>{self.esc(r.event)}</td><td>{self.esc(r.text)}"
            f"</td><td>{self.markers(r.cites)}</td></tr>" for r in rows)
        return Markup("<table><thead><tr><th>Time (UTC)</th><th>Event</th><th>What the "
                      f"provider said</th><th>Source</th></tr></thead><tbody>{body}</tbody>"
                      "</table>")

    def footnotes(self) -> Markup:
        items = []
        for c in self.draft.citations:
            items.append(f'<li id="fn-{html.escape(c.label)}">[{html.escape(c.label)}] '
                         f"{self._footnote(c)}</li>")
        return Markup(f"<ul>{''.join(items)}</ul>")


def _md_finalize(value: Any) -> Any:
    """Escape every plain value a Markdown template prints (Markup is already safe)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return md_escape(value)


# One environment per template folder and mode: it caches its compiled templates (the site
# renders hundreds of drafts per build; compiling the templates each time was half the cost).
# The loader still checks each file's mtime, so an edited --template file is read again.
@lru_cache(maxsize=16)
def _environment(search: tuple[Path, ...], *, html_mode: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader([str(p) for p in search]),
        autoescape=select_autoescape(["html", "htm", "xml", "html.j2", "htm.j2"],
                                     default_for_string=html_mode, default=html_mode),
        finalize=None if html_mode else _md_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = lambda v: when(v)
    env.filters["span"] = minutes_text
    return env


def _locate(template: str) -> tuple[Path, str]:
    """(folder, file name) of a built-in template name or a user's template path."""
    if template in BUILTIN:
        return TEMPLATES, f"{template}.md.j2"
    path = Path(template).expanduser()
    if not path.is_file():
        known = ", ".join(BUILTIN)
        raise NotFound(f"--template {template!r}: not a built-in ({known}) nor a file")
    return path.resolve().parent, path.name


def _is_html(name: str) -> bool:
    return name.lower().endswith((".html", ".htm", ".html.j2", ".htm.j2"))


def render_text(draft: Draft, template: str = "sre") -> tuple[str, bool]:
    """(rendered text, is_html) of `draft` with a built-in or user template."""
    folder, name = _locate(template)
    html_mode = _is_html(name)
    env = _environment((folder, TEMPLATES), html_mode=html_mode)
    helpers = (_Html if html_mode else _Markdown)(draft)
    names = ("fact", "paragraph", "bullets", "undisclosed", "for_author", "polished", "extra",
             "suggestions", "timeline_table", "footnotes", "link")
    context = {n: getattr(helpers, n) for n in names}
    try:
        text = env.get_template(name).render(draft=draft, NOT_DISCLOSED=NOT_DISCLOSED,
                                             **context)
    except TemplateError as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ConfigError(f"template {template}{where}: {' '.join(str(exc).split())}") from None
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", html_mode


def page(title: str, fragment: str) -> str:
    """A whole HTML document around a sanitised fragment; scripts and remote loads are off."""
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"{clean_document(fragment)}\n</body>\n</html>\n")


def render_draft(draft: Draft, template: str = "sre", fmt: str = "md") -> str:
    """The draft as `fmt` (md, html or json) through `template` (a built-in name or a path)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    text, is_html = render_text(draft, template)
    if fmt == "json":
        data = draft_to_dict(draft)
        data["rendered"] = {"template": template if template in BUILTIN else Path(template).name,
                            "format": "html" if is_html else "md", "text": text}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "md":
        if is_html:
            raise ConfigError(f"template {template} writes HTML; use --format html")
        return text
    title = f"Postmortem draft: {draft.title}"
    return page(title, text if is_html else markdown_html(text))
