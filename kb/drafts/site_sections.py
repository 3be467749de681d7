"""Postmortem drafts on the site: a page per recent incident, and the incident page's slot.

* `COLLECTIONS`: "postmortems", one page at /postmortems/<slug>/ per incident first posted in
  the `site_draft_days` (kb.toml `[site] draft_days`, `KB_SITE_DRAFT_DAYS`; default 90, 0 =
  none) before the build's as-of date: the cited draft `kb postmortem KEY --template sre`
  writes, with its footnotes. Only recent incidents: drafting every incident of a large KB
  would double the page count and the build time.
* `SECTIONS`: the incident page's "Postmortem draft" slot (order 60) links to that page, or,
  for an incident without one, shows what a draft would start from and the command.

Maintenances get no draft. A draft that cannot be made is one line in the build's failures
and its incident keeps the preview; the rest of the site is unaffected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

from kb.drafts import adapters, prose
from kb.drafts.draft import Extra
from kb.drafts.postmortem import draft_from_incident
from kb.drafts.render import render_draft
from kb.errors import exception_line
from kb.model import Incident, Kind, SourcedRecord, final_resolution
from kb.normalize.impact import sentences
from kb.render.sections import (
    Block,
    BuildContext,
    Collection,
    Figures,
    IncidentLink,
    Links,
    Page,
    PageLink,
    Prose,
    Section,
    Text,
)
from kb.shell import UNSHOWABLE, kb_command
from kb.timefmt import minutes_text, whole_minutes

if TYPE_CHECKING:
    from kb.drafts.citations import Citations
    from kb.store import Store

__all__ = ["COLLECTIONS", "NAME", "SECTIONS", "draft_markdown", "draft_slug", "preview"]

NAME = "postmortems"  # the collection: /postmortems/<slug>/
TEMPLATE = "sre"
# The sections of a draft that read the store once per draft cheaply. The others search
# embeddings (similar) or load every incident of the KB (reliability, fallback): hundreds of
# times per build that would take minutes, and the site shows them on the incident and
# provider pages already. `kb postmortem` still writes them.
SITE_EXTRAS = ("signals", "user_reports", "cause_tags")
_LEFT_OUT = {
    "similar": "see the incident page's similar incidents",
    "reliability": "see the provider page's reliability figures",
    "fallback": "kb compare shows which providers were down at the same time",
}


def _command(key: str) -> str:
    """The command that writes the draft, the key shell-quoted (kb.shell): ids are vendor
    text, and a pasted `x;touch${IFS}PWNED;#` must stay one argument."""
    command = kb_command("postmortem", key, "--template", "sre")
    if command is None:
        return f"kb postmortem --template sre with the incident's key ({UNSHOWABLE})"
    return (f"{command}   "
            "(or atlassian, pagerduty, your own jinja2 file; --format md, html or json)")


@dataclass
class _Drafts:
    """The drafts of one build: their pages, and which incident has which page."""

    pages: list[Page] = field(default_factory=list)
    slugs: dict[str, str] = field(default_factory=dict)  # incident key → page slug
    # incidents a linked published postmortem states a cause for (kb.drafts.writeups)
    writeup_causes: frozenset[str] = frozenset()


def draft_slug(key: str) -> str:
    """The page slug of an incident's draft: `provider--id`, readable and stable. Where a
    part holds "--" itself (so two keys could meet), the key is kept whole and the site
    turns it into a hashed slug."""
    provider, _, native_id = key.partition("/")
    return key if "--" in provider or "--" in native_id else f"{provider}--{native_id}"


def _chosen(incidents: Sequence[Incident], days: int, end: datetime) -> list[Incident]:
    """The incidents (not maintenances) first posted in the `days` before `end`, newest
    first."""
    start = end - timedelta(days=days)
    found = [(posted, i) for i in incidents
             if i.kind is Kind.INCIDENT and i.updates
             and (posted := i.first_posted) is not None and start <= posted < end]
    return [i for _, i in sorted(found, key=lambda pair: (pair[0], pair[1].key), reverse=True)]


def _site_extras(store: Store) -> dict[str, adapters.Adapter]:
    """The adapters of the site's drafts: SITE_EXTRAS as `kb postmortem` runs them, the
    others replaced by a note saying where the site shows them."""

    def left_out(name: str, where: str) -> adapters.Adapter:
        def run(_store: Store, _incident: Incident, _cite: Citations) -> Extra:
            return Extra(name, adapters.TITLES[name], False,
                         f"not in the site's drafts ({where}; kb postmortem includes it)")
        return run

    linked = _linked_keys(store)
    chosen = {name: _unlinked_once(adapters.ADAPTERS[name], linked)
              if name in ("signals", "user_reports") and linked else adapters.ADAPTERS[name]
              for name in SITE_EXTRAS}
    return chosen | {name: left_out(name, where) for name, where in _LEFT_OUT.items()}


def _linked_keys(store: Store) -> set[str] | None:
    """The incidents any signal is linked to (None when the KB cannot say)."""
    try:
        from kb.store.signals import links

        return {link.incident_key for link in links(store)}
    except Exception:  # no signal tables: the adapters themselves say so in each draft
        return None


def _unlinked_once(real: adapters.Adapter, linked: set[str]) -> adapters.Adapter:
    """`real` for incidents with linked signals; for the others its answer, which names no
    incident ("no thread or article is linked to this incident"), is made once. Why: it
    reads every link of the KB to say so, a third of a 10k-incident site's drafting time."""
    unlinked: list[Extra] = []

    def run(store: Store, incident: Incident, cite: Citations) -> Extra:
        if incident.key in linked:
            return real(store, incident, cite)
        if not unlinked:
            unlinked.append(real(store, incident, cite))
        return unlinked[0]

    return run


def _prepare(store: Store, build: BuildContext | None = None) -> _Drafts:
    """Draft every incident of the window once per build (the collection and the incident
    slot share this state); in a changed-keys build (`build.scope`), those of the scope."""
    build = build or BuildContext(store)
    made = _prepare_drafts(store, build)
    made.writeup_causes = _writeup_causes(store)
    return made


def _writeup_causes(store: Store) -> frozenset[str]:
    """Keys of incidents with a linked postmortem that states a cause (none where the KB
    holds no postmortem tables)."""
    try:
        from kb.store.postmortems import links, postmortems

        found = links(store)
        docs = {d.id: d for d in postmortems(store, ids={k.postmortem_id for k in found})}
    except Exception:  # a database without revision p01
        return frozenset()
    stating = {i for i, d in docs.items()
               if any(prose.is_cause(s) for s in sentences(f"{d.summary}\n{d.text}"))}
    return frozenset(k.incident_key for k in found if k.postmortem_id in stating)


def _prepare_drafts(store: Store, build: BuildContext) -> _Drafts:
    try:
        days = build.settings.site_draft_days
    except Exception as exc:  # unreadable settings: no drafts, and say why once
        build.warn(f"collection {NAME}: no drafts published: {exception_line(exc)}")
        return _Drafts()
    end = datetime.combine(build.as_of + timedelta(days=1), time.min, tzinfo=UTC)
    chosen = _chosen(build.incidents, days, end) if days > 0 else []
    if build.scope is not None:
        chosen = [i for i in chosen if build.scope.has(i)]
    if not chosen:
        return _Drafts()
    try:
        current = store.current_records([i.key for i in chosen])  # one query for all drafts
        names = store.provider_names()
        extras = _site_extras(store)
    except Exception as exc:  # every incident page keeps its preview
        build.warn(f"collection {NAME}: no drafts published: {exception_line(exc)}")
        return _Drafts()
    made = _Drafts()
    for incident in chosen:
        try:
            page = _page(store, incident, names.get(incident.provider) or incident.provider,
                         current.get(incident.key, []), extras)
        except Exception as exc:  # one broken draft must not cost the others their pages
            build.warn(f"collection {NAME}: {incident.key}: no draft: {exception_line(exc)}")
            continue
        made.pages.append(page)
        made.slugs[incident.key] = page.slug
    return made


def _page(store: Store, incident: Incident, provider_name: str,
          current: Sequence[SourcedRecord], extras: dict[str, adapters.Adapter]) -> Page:
    draft = draft_from_incident(incident, provider_name=provider_name,
                                current=current, store=store, extras=extras)
    blocks: list[Block] = [
        Links([IncidentLink(incident.key, note="the incident's page: timeline, updates, "
                                               "sources")]),
        Text("A starting point for your own postmortem, from the public record only. Every "
             "footnote names the status update or stored payload its sentence comes from; "
             "what the provider did not disclose is marked for you to fill in. Your own "
             f"copy:\n{_command(incident.key)}"),
        Prose(draft_markdown(render_draft(draft, TEMPLATE, "md"))),
    ]
    posted = incident.first_posted
    return Page(draft_slug(incident.key), f"Postmortem draft: {incident.title}", blocks,
                summary=f"{provider_name}, {posted:%Y-%m-%d}, severity "
                        f"{incident.stated_severity}" if posted else provider_name)


_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def draft_markdown(markdown: str) -> str:
    """A rendered draft made ready for a `Prose` block (which converts it with the site's
    one Markdown engine, kb.render.safe.markdown_html, and reduces it to the prose allow-list:
    footnote markers stay plain "[n]", nh3 removing the ids a jump would need). The draft's
    own title line goes (the page has it) and its headings move one level down, below the
    page's sections."""
    body = markdown.split("\n", 1)[1] if markdown.startswith("# ") else markdown
    return _HEADING.sub(lambda m: "#" * (len(m.group(1)) + 1) + " ", body)


# -- the incident page's slot --------------------------------------------------------------


def preview(state: object, incident: Incident) -> list[Figures | Text] | None:
    """Figures a draft would open with, and how to make the draft; None for maintenances."""
    if incident.kind is not Kind.INCIDENT or not incident.updates:
        return None
    updates = incident.updates
    first = updates[0].at
    pairs: list[tuple[str, str]] = []
    window = incident.impact_window
    if window is not None:
        if window.end is not None:
            taken = minutes_text(whole_minutes(window.start, window.end))
            pairs.append(("stated impact",
                          f"{window.start:%H:%M}–{window.end:%H:%M} UTC, {taken}"))
        lag = whole_minutes(window.start, first)
        pairs.append(("first post", f"{abs(lag)} min {'after' if lag >= 0 else 'before'} the "
                                    "stated impact start"))
    final = final_resolution(updates)  # the last resolution, after any reopening
    resolved = updates[final].at if final is not None else None
    if resolved is not None:
        # a first post that already said resolved measures no time (not "0 min")
        pairs.append(("first post → resolved", "posted resolved" if final == 0
                      else minutes_text(whole_minutes(first, resolved))))
    written = getattr(state, "writeup_causes", frozenset())
    pairs.append(("stated cause", "quoted in the draft" if prose.causes(updates, limit=1)
                  else "quoted from a linked postmortem" if incident.key in written
                  else "not disclosed by the provider"))
    return [Figures(pairs, caption="What a postmortem draft starts from"),
            Text("Every sentence of the draft carries a footnote to the status update or "
                 f"stored payload it comes from. Write it with:\n{_command(incident.key)}")]


def _slot(state: _Drafts, incident: Incident) -> list[Block] | None:
    """A link to the incident's published draft, else the preview."""
    slug = state.slugs.get(incident.key)
    if slug is None:
        found = preview(state, incident)
        return None if found is None else list(found)
    return [PageLink(NAME, slug, "Read the postmortem draft",
                     note="every sentence footnoted to its status update or stored payload"),
            Text(f"Your own copy: {_command(incident.key)}")]


SECTIONS = [
    Section(
        name="postmortem", title="Postmortem draft", provide=_slot, order=60, prepare=_prepare,
        note="A starting point for your own postmortem, from the public record only.",
        searchable=False,  # figures and a command; the draft's own page is searchable
    ),
]

COLLECTIONS = [
    Collection(
        name=NAME, title="Postmortem drafts", pages=attrgetter("pages"), prepare=_prepare,
        note="Drafts of the incidents first posted in the days before this site's as-of date "
             "(kb.toml [site] draft_days, 90 by default), from the public record only. "
             "`kb postmortem PROVIDER/ID` drafts any incident.",
    ),
]
