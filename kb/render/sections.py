"""Optional page sections other features plug in: signals, similar incidents, causes, metrics,
postmortem drafts, reliability figures. A section is shown only when its provider returns data;
until a feature lands, its slot is simply absent from the pages (never faked).

How a feature plugs in (no template edits needed):

1. Create `kb/<feature>/site_sections.py` exposing `SECTIONS: list[Section]`, and name it
   in SITE_SECTIONS below; `discover()` imports the named modules at build time.
2. Each `Section` has a `provide(store, subject) -> Block | list[Block] | None` callable.
   `subject` is an `Incident` (scope "incident") or a provider slug (scope "provider").
   Return None (or an empty list) to leave the section out of that page. `marks` (incident
   scope only) may return `Mark`s drawn on the timeline picture (e.g. the first HN comment).
3. Build the data from the block types below. The site's templates render them, escaping
   every string: a provider never writes HTML or Markdown itself, so it cannot break the
   page or inject script, whatever the scraped text says.

A feature may also add whole pages: `COLLECTIONS: list[Collection]` in the same module gives
an index page at /<name>/ (linked from the home page) and a page per `Page`, built from the
same blocks; a section links to them with `PageLink`. A collection with no page is left out.

Slots are ordered by `order`; the known slots reserve these orders: signals 20,
similar 30, causes 40, metrics 50, postmortem 60 (incident pages) and reliability 10,
causes 40 (provider pages).

`provide` is called once per incident per build. Keep it to a dictionary look-up: load
everything once in `prepare(store)` (called once per build); what `prepare` returns is the
`state` handed to `provide` and `marks`, so a 10k-incident site stays fast. A `prepare` that
takes a second parameter, `prepare(store, build)`, is also handed the `BuildContext`: the
build's as-of date, the incidents the site already loaded (no second pass over the store),
the settings, and `warn(line)` for a failure that leaves out one item but not the section.
Sections and collections that share one `prepare` function get one call and one state per
build (e.g. a section linking the pages its collection made). A section that raises is
reported as one line and left out; the build goes on.

A changed-keys build (`kb watch`, `kb update`: kb.render.site.render_site with `changed`)
renders only the pages a few changed incidents affect. Its `build.scope` (a `Scope`; None in
a full build) names the incidents and providers whose pages it renders: a `prepare` that
does expensive work per incident or per provider does it for those only (`provide` is
called for no other subject), and a collection whose pages aggregate the whole KB returns
none in such a build (its pages stay as the last full build wrote them).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from kb.analysis.coverage import Coverage
    from kb.analysis.metrics import IncidentFigures
    from kb.config import Settings
    from kb.model import Incident
    from kb.store import Store

# -- blocks: the only shapes a section may hand to the templates ----------------------------


@dataclass(frozen=True)
class IncidentLink:
    """A link to another incident of this site, e.g. a similar one with its score."""

    key: str  # provider/native_id
    note: str | None = None  # e.g. "score 0.83" or "same component"
    score: float | None = None


@dataclass(frozen=True)
class ExternalLink:
    """A link off the site (an HN thread, a news article). Non-http(s) URLs show as text."""

    url: str
    text: str
    note: str | None = None  # e.g. "posted 12 min before the first status update"


@dataclass(frozen=True)
class Links:
    items: Sequence[IncidentLink | ExternalLink | PageLink]
    caption: str | None = None


@dataclass(frozen=True)
class Tags:
    """Short labels, e.g. cause tags."""

    names: Sequence[str]
    caption: str | None = None


@dataclass(frozen=True)
class Figures:
    """Label → value pairs, e.g. metrics: ("time to resolve", "2h14m")."""

    pairs: Sequence[tuple[str, str]]
    caption: str | None = None


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str | None = None


@dataclass(frozen=True)
class Text:
    """Plain text; line breaks kept. Shown escaped, never interpreted."""

    text: str


@dataclass(frozen=True)
class Prose:
    """Markdown (e.g. a postmortem draft): converted to HTML, then reduced by nh3 to a short
    allow-list (paragraphs, lists, emphasis, code, headings h3/h4, tables, http(s) links)."""

    markdown: str


@dataclass(frozen=True)
class PageLink:
    """A link to a page of a `Collection` (shown as text when that page does not exist)."""

    collection: str
    slug: str
    text: str
    note: str | None = None


Block = IncidentLink | ExternalLink | PageLink | Links | Tags | Figures | Table | Text | Prose


@dataclass(frozen=True)
class Mark:
    """A point drawn on an incident's timeline picture (community signal, detection, ...)."""

    at: datetime
    label: str
    kind: str = "signal"  # CSS class suffix: kb-mark-signal, kb-mark-news, ...


# -- the build a prepare function runs in -----------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The subjects of a changed-keys build: the changed incidents and their providers. Only
    their incident and provider pages are rendered, so `provide` is called for them alone."""

    incidents: frozenset[str]  # incident keys
    providers: frozenset[str]  # provider slugs

    def has(self, incident: Incident | str) -> bool:
        """Whether an incident (or its key) is one of the changed ones."""
        return (incident if isinstance(incident, str) else incident.key) in self.incidents


class BuildContext:
    """What one site build knows beyond the store, for `prepare(store, build)` functions.

    `incidents` and `settings` are loaded on first use when the build did not hand them over
    (a Registry prepared outside a site build: tests, benchmarks); `coverage` is read from
    the store once per build, for the site's day bars and the reliability section alike.
    `scope` is None in a full build; in a changed-keys build it names the only subjects
    whose pages are rendered (see `Scope` and this module's docstring)."""

    def __init__(self, store: Store, as_of: date | None = None, *,
                 incidents: Sequence[Incident] | None = None, settings: Settings | None = None,
                 failures: list[str] | None = None, scope: Scope | None = None) -> None:
        self.store = store
        self.scope = scope
        self.as_of: date = as_of or datetime.now(UTC).date()  # last day the site shows
        self._incidents = incidents
        self._settings = settings
        self._coverage: dict[str, Coverage] | None = None
        self._figures: dict[tuple[str, datetime | None], IncidentFigures] = {}
        self.failures: list[str] = [] if failures is None else failures

    @property
    def incidents(self) -> Sequence[Incident]:
        """Every incident of the site (the build's own list: no second read of the store);
        in a changed-keys build, the incidents of the scope's providers only (the listings
        of the others come from kb.store.listings)."""
        if self._incidents is None:
            self._incidents = list(self.store.incidents())
        return self._incidents

    @property
    def settings(self) -> Settings:
        """The KB's settings (environment over kb.toml), as the CLI loads them."""
        if self._settings is None:
            from kb.config import load_settings

            self._settings = load_settings()
        return self._settings

    @property
    def coverage(self) -> dict[str, Coverage]:
        """Per provider, the time the stored payloads cover (kb.analysis.coverage)."""
        if self._coverage is None:
            from kb.analysis.coverage import coverage_from_payloads
            from kb.store.analysis import payload_spans

            self._coverage = coverage_from_payloads(payload_spans(self.store))
        return self._coverage

    def incident_figures(self, incident: Incident,
                         seen: datetime | None = None) -> IncidentFigures:
        """kb.analysis.metrics.incident_figures, made once per build for each incident and
        `seen` (the reliability section and the year figures both measure the same
        incidents: twice the work at 100k). An incident that fails to measure raises each
        time."""
        memo = (incident.key, seen)
        found = self._figures.get(memo)
        if found is None:
            from kb.analysis.metrics import incident_figures

            found = self._figures[memo] = incident_figures(incident, seen)
        return found

    def warn(self, line: str) -> None:
        """Report one failure (a draft that could not be made, ...) as a line of the build."""
        self.failures.append(line)


Prepare = Callable[..., Any]  # (store) -> state, or (store, build: BuildContext) -> state


def _takes_context(prepare: Prepare) -> bool:
    try:
        parameters = inspect.signature(prepare).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: the old one-argument form
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)


# -- sections ------------------------------------------------------------------------------

Provide = Callable[[Any, Any], "Block | Sequence[Block] | None"]


@dataclass(frozen=True)
class Section:
    """One optional part of a page, filled by a feature."""

    name: str  # slot id: "similar", "signals", ...; also the HTML id of the section
    title: str  # heading shown above it
    provide: Provide  # (state, subject) -> blocks | None; see `prepare`
    scope: Literal["incident", "provider"] = "incident"
    order: int = 100
    # Called once per build with the Store (and the BuildContext when it takes a second
    # parameter); its result is the `state` handed to `provide` and `marks`. Default: the Store.
    prepare: Prepare | None = None
    marks: Callable[[Any, Incident], Sequence[Mark]] | None = None
    note: str | None = None  # one line under the heading, e.g. how a score is computed
    # False leaves the section out of the site's built-in search index: figures, and links to
    # other incidents (whose titles would make each neighbour a hit for the other's words).
    searchable: bool = True


@dataclass(frozen=True)
class Page:
    """One page of a collection, at /<collection>/<slug>/."""

    slug: str  # made path-safe by the site; keep it stable across builds
    title: str
    blocks: Sequence[Block]
    summary: str | None = None  # one line on the collection's index page


@dataclass(frozen=True)
class Collection:
    """A set of pages a feature adds to the site (cause pages, postmortem drafts, ...), with
    an index page at /<name>/ linked from the home page. Same rules as sections: blocks only,
    failures are one line each."""

    name: str  # folder and URL segment, e.g. "causes"
    title: str  # the index page's title, e.g. "Causes"
    pages: Callable[[Any], Iterable[Page]]  # (state) -> pages
    prepare: Prepare | None = None  # as Section.prepare
    note: str | None = None  # a line on the index page


# Folders the site itself writes: a collection may not take them.
RESERVED_COLLECTIONS = frozenset({"assets", "components", "data", "feeds", "incidents",
                                  "providers", "search", "years", "about", "index", "compare"})


@dataclass
class Registry:
    """The sections and collections of one build, with their prepared state."""

    sections: list[Section] = field(default_factory=list)
    states: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    pages: dict[str, list[Page]] = field(default_factory=dict)  # collection name → pages
    _slugs: dict[str, set[str]] | None = field(default=None, init=False, repr=False)

    def prepare(self, store: Store, build: BuildContext | None = None) -> None:
        """Call every `prepare` once (one call per distinct function), then make the
        collections' pages. `build` defaults to a context of today with lazy incidents."""
        build = build or BuildContext(store)
        build.failures = self.failures  # warn() lines are the build's failures
        made: dict[int, tuple[Any, Exception | None]] = {}

        def state_of(prepare: Prepare | None) -> Any:
            if prepare is None:
                return store
            if id(prepare) not in made:  # the function object is alive: its id is stable
                try:
                    made[id(prepare)] = (prepare(store, build) if _takes_context(prepare)
                                         else prepare(store), None)
                except Exception as exc:  # a broken feature must not take the site down
                    made[id(prepare)] = (None, exc)
            state, error = made[id(prepare)]
            if error is not None:
                raise error
            return state

        for section in self.sections:
            try:
                self.states[_slot(section)] = state_of(section.prepare)
            except Exception as exc:
                self.failures.append(f"section {section.name}: prepare failed: {exc}")
        self.sections = [s for s in self.sections if _slot(s) in self.states]
        for collection in self.collections:
            if collection.name in RESERVED_COLLECTIONS or collection.name in self.pages:
                self.failures.append(f"collection {collection.name}: name taken; left out")
                continue
            try:
                self.pages[collection.name] = list(collection.pages(state_of(collection.prepare)))
            except Exception as exc:
                self.failures.append(f"collection {collection.name}: {exc}")
        # A collection without pages is left out (no empty index page, no home link), as a
        # section without data is.
        self.collections = [c for c in self.collections if self.pages.get(c.name)]
        self._slugs = {name: {p.slug for p in pages} for name, pages in self.pages.items()}

    def has_page(self, collection: str, slug: str) -> bool:
        if self._slugs is None:  # pages set by hand, without prepare()
            return any(page.slug == slug for page in self.pages.get(collection, ()))
        return slug in self._slugs.get(collection, ())

    def blocks(self, scope: str, subject: object) -> list[tuple[Section, list[Block]]]:
        """The sections of `scope` that have data for `subject`, in order, with their blocks."""
        found = []
        for section in sorted(self.sections, key=lambda s: (s.order, s.name)):
            if section.scope != scope:
                continue
            try:
                data = section.provide(self.states[_slot(section)], subject)
            except Exception as exc:
                self.failures.append(f"section {section.name}: {subject_name(subject)}: {exc}")
                continue
            blocks = _as_list(data)
            if blocks:
                found.append((section, blocks))
        return found

    def marks(self, incident: Incident) -> list[Mark]:
        found: list[Mark] = []
        for section in self.sections:
            if section.scope == "incident" and section.marks is not None:
                try:
                    found.extend(section.marks(self.states[_slot(section)], incident))
                except Exception as exc:
                    self.failures.append(f"section {section.name}: marks: {incident.key}: {exc}")
        return found


def _slot(section: Section) -> str:
    return f"{section.scope}:{section.name}"


def subject_name(subject: object) -> str:
    return str(getattr(subject, "key", subject))


def _as_list(data: object) -> list[Block]:
    if data is None:
        return []
    if isinstance(data, (list, tuple)):
        return [b for b in data if b is not None]
    return [data]  # type: ignore[list-item]


# The features' site_sections modules, imported only when a site is built (they bring their
# features' dependencies); a new feature's module is one more line here.
SITE_SECTIONS = (
    "kb.analysis.site_sections",
    "kb.drafts.site_sections",
    "kb.embed.site_sections",
    "kb.postmortems.site_sections",
    "kb.signals.site_sections",
)


def discover(extra: Sequence[Section | Collection] = (), *, scan: bool = True) -> Registry:
    """Every `SECTIONS` and `COLLECTIONS` list of the SITE_SECTIONS modules (unless `scan`
    is False), plus `extra`."""
    sections: list[Section] = [s for s in extra if isinstance(s, Section)]
    collections: list[Collection] = []
    failures: list[str] = []
    for name in SITE_SECTIONS if scan else ():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a half-written feature must not take the site down
            failures.append(f"{name}: cannot import: {exc}")
            continue
        sections.extend(getattr(module, "SECTIONS", []))
        collections.extend(getattr(module, "COLLECTIONS", []))
    collections.extend(c for c in extra if isinstance(c, Collection))
    seen: set[tuple[str, str]] = set()
    unique = []
    for section in sections:
        if (section.scope, section.name) in seen:
            failures.append(f"section {section.name}: registered twice; the first one is used")
            continue
        seen.add((section.scope, section.name))
        unique.append(section)
    return Registry(unique, failures=failures, collections=collections)
