"""The jinja2 environment the page templates (site/templates/*.j2) are rendered with.

Safety lives in the environment, not in each template: autoescape is on for every template,
and `finalize` passes every printed value that is not already `Markup` through
`clean_text` (controls dropped, bidi overrides made visible) before it is escaped. Values the
code builds as HTML (SVG pictures, nh3-cleaned bodies) are `Markup` and pass unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup, escape

from kb.model import Incident, Kind, Update
from kb.normalize.snapshots import describe_end
from kb.present import duration
from kb.render import figures, paths
from kb.render.safe import (
    clean_prose,
    clean_text,
    front_matter_title,
    one_line,
    rich_text,
    safe_href,
)
from kb.serialize import stamp
from kb.shell import UNSHOWABLE, kb_command
from kb.timefmt import clock


@dataclass(frozen=True)
class Known:
    """What a page needs to link to another incident of the site."""

    provider: str
    title: str
    doc: str
    first_post: datetime | None


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return clean_text(value)


def when(value: datetime | None) -> Markup:
    """A UTC time as <time>, which the local-time toggle (assets/kb/kb.js) can rewrite."""
    if value is None:
        return Markup("–")
    # Digits and separators only: nothing to escape (and format() here is a hot path).
    return Markup(f'<time class="kb-time" datetime="{stamp(value)}">'
                  f'{value.strftime("%Y-%m-%d %H:%M")} UTC</time>')


def span(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    if minutes >= 2 * 24 * 60:
        return f"{minutes / (24 * 60):.1f} days"
    return clock(minutes)


def css(value: object) -> str:
    """A value reduced to a CSS class / id fragment."""
    return re.sub(r"[^a-z0-9_-]+", "-", str(value).lower()).strip("-")[:40] or "x"


def heading(value: object) -> str:
    """Text for a Markdown heading the code writes: Markdown syntax characters removed."""
    return re.sub(r"[^\w .,:()'/-]+", "", one_line(value, 80))


def paragraph(value: object) -> Markup:
    return escape(clean_text(value)).replace("\n", Markup("<br>"))


def make_env(templates: Path, providers: Mapping[str, str | None],
             known: Callable[[str], Known | None],
             page_exists: Callable[[str, str], bool] = lambda _c, _s: False) -> Environment:
    """The environment for one build: `providers` gives display names, `known` finds an
    incident of the site by key and `page_exists` a collection's page (for links from
    sections)."""
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        auto_reload=False,
    )

    @pass_context
    def to(context: Any, doc: str) -> str:
        return paths.link(context["here"], doc)

    def provider_name(slug: str) -> str:
        return providers.get(slug) or slug

    def ttr(incident: Incident) -> str:
        """The incident page's note on its resolved time."""
        life = incident.lifecycle
        if life.resolved_at is None or life.first_post_at is None:
            return ""
        if life.resolved_at == life.first_post_at:
            return "the first post already said resolved"
        if life.resolved_at < life.first_post_at:
            return "before the first post: the vendor's times disagree"
        return f"{resolved_after(incident)} after the first post"

    def end_bound(incident: Incident) -> Markup | None:
        """A bounded end from open-only snapshots, with <time> stamps (kb.normalize.snapshots)."""
        text = describe_end(incident, lambda t: "\0")
        if text is None:
            return None
        life = incident.lifecycle
        stamps = [when(life.end_not_before), when(life.end_not_after)]
        parts = text.split("\0")  # our words around each time
        out = [escape(parts[0])]
        for stamp_, part in zip(stamps, parts[1:], strict=False):
            out += [stamp_, escape(part)]
        return Markup("").join(out)

    def rich(update: Update) -> Markup:
        return rich_text(update.body, update.text)

    rows: dict[tuple[str, str, bool], str] = {}

    @pass_context
    def listing_rows(context: Any, items: list[Incident], show_provider: bool) -> Markup:
        """The <tr> of each incident in a listing table; a row depends only on the incident
        and the page's depth, so each is made once per depth and reused."""
        root = paths.root_of(context["here"])
        out = []
        for i in items:
            cache_key = (i.key, root, show_provider)
            row = rows.get(cache_key)
            if row is None:
                row = rows[cache_key] = _row(i, root, show_provider, provider_name(i.provider))
            out.append(row)
        return Markup("\n".join(out))

    @pass_context
    def filter_rows(context: Any, items: list[Incident],
                    causes: Mapping[str, tuple[str, ...]]) -> Markup:
        """Listing rows that carry what the year pages' filter reads (data-kb-* attributes:
        components, severity, stated causes; JSON lists, escaped)."""
        root = paths.root_of(context["here"])
        return Markup("\n".join(
            _row(i, root, False, provider_name(i.provider), causes.get(i.key, ()))
            for i in items))

    env.filters.update(
        when=when, span=span, css=css, heading=heading, paragraph=paragraph, ttr=ttr,
        end_bound=end_bound,
        rich=rich, href=safe_href, first_post=figures.first_post,
        line=lambda value, limit=300: one_line(value, limit),
        day=lambda value: value.strftime("%Y-%m-%d") if value else "–",
        kind=lambda value: type(value).__name__,
        front_matter=lambda value: Markup(front_matter_title(value)),
        prose=clean_prose,
    )
    env.globals.update(
        to=to, provider_name=provider_name, lookup=known, is_open=figures.is_open,
        listing_rows=listing_rows, filter_rows=filter_rows, page_exists=page_exists,
        provider_year_doc=paths.provider_year_doc,
        kb_command=kb_command, unshowable=UNSHOWABLE, zip=zip,
        collection_doc=paths.collection_doc,
        incident_doc=paths.incident_doc, provider_doc=paths.provider_doc,
        component_doc=paths.component_doc, year_doc=paths.year_doc, feed_file=paths.feed_file,
        export_file=paths.EXPORT_FILE,
    )
    return env


def _row(incident: Incident, root: str, show_provider: bool, provider: str,
         causes: tuple[str, ...] | None = None) -> str:
    """One listing row; every scraped value cleaned and escaped, as in the templates. With
    `causes`, the row also carries the filter's values (severity "unknown" is a value)."""
    page = root + paths.url_of(paths.incident_doc(incident.provider, incident.native_id))
    cells = [f"<td>{when(figures.first_post(incident))}</td>"]
    if show_provider:
        where = root + paths.url_of(paths.provider_doc(incident.provider))
        cells.append(f'<td><a href="{escape(where)}">{escape(clean_text(provider))}</a></td>')
    maintenance = incident.kind is Kind.MAINTENANCE
    chip = ' <span class="kb-chip">maintenance</span>' if maintenance else ""
    severity = incident.stated_severity
    cells += [
        f'<td class="kb-title-cell"><a href="{escape(page)}">'
        f"{escape(one_line(incident.title, 160))}</a>{chip}</td>",
        f'<td><span class="kb-sev kb-sev-{css(severity)}">{escape(severity)}</span></td>',
        f"<td>{escape(one_line(incident.status, 30))}</td>",
        f"<td>{resolved_after(incident)}</td>",
    ]
    if causes is None:
        return "<tr>" + "".join(cells) + "</tr>"
    components = sorted({one_line(c.name, 80) for c in incident.components})
    facets = (f' data-kb-components="{escape(json.dumps(components))}"'
              f' data-kb-severity="{escape(one_line(severity, 30))}"'
              f' data-kb-causes="{escape(json.dumps(list(causes)))}"')
    return f'<tr class="kb-facet-row"{facets}>' + "".join(cells) + "</tr>"


def resolved_after(incident: Incident) -> str:
    """First post → resolved as text; "–" where it measures nothing (never resolved, or the
    first post already said resolved: "0m" would read as a fix in no time)."""
    ttr = figures.time_to_resolve(incident)
    if ttr is None:
        return "–"
    return duration(incident.lifecycle.first_post_at, incident.lifecycle.resolved_at)


def render(env: Environment, template: str, here: str, **context: Any) -> str:
    """One page: `here` is its docs-relative path (links are made relative to it)."""
    return env.get_template(template).render(here=here, **context)
