"""`kb site build` on a fixture database: pages, permalinks, hostile payloads, links, search
index, feeds, export, write-only-when-changed, the extension point, the CLI and the stage.

The fixture database is built through the library (pipeline ingest of tests/fixtures/site,
see its ORIGIN.md); the site is built once per module with the repository's mkdocs.yml.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup

from kb.config import PACKAGED_SOURCES, load_settings, load_sources
from kb.errors import ConfigError
from kb.model import Incident
from kb.pipeline import Line, ingest, run_later_stages
from kb.render import paths
from kb.render.build import BuildReport, Layout, build_site, find_layout
from kb.render.sections import (
    Collection,
    IncidentLink,
    Links,
    Mark,
    Page,
    PageLink,
    Prose,
    Section,
    Text,
)
from kb.render.site import render_site
from kb.stage import RunReport, StageContext
from kb.store import Store
from scrapers.archive import Archive
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "site"
SOURCES = load_sources(PACKAGED_SOURCES)
AS_OF = date(2026, 9, 15)
HOSTILE = "hostile/h0st1le0001"
# Inline scripts mkdocs-material itself writes into every page; anything else is an injection.
THEME_SCRIPTS = ("__md_scope=", "var palette=", "var target=")


def open_store(home: Path) -> Store:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    return store


def fixture_db(home: Path) -> Store:
    store = open_store(home)
    report = ingest(Line(store, Archive(home / "raw"), SOURCES), [FIX])
    assert not report.failures, report.failures
    return store


def similar_section() -> Section:
    """A stand-in for the similar-incidents feature: each incident links to the other
    incidents of its provider. It exercises the extension point, not similarity."""

    def prepare(store: Store) -> dict[str, list[str]]:
        keys: dict[str, list[str]] = {}
        for incident in store.incidents():
            keys.setdefault(incident.provider, []).append(incident.key)
        return keys

    def provide(state: dict[str, list[str]], incident: Incident) -> Links | None:
        others = [k for k in state.get(incident.provider, []) if k != incident.key][:3]
        if not others:
            return None
        return Links([IncidentLink(k, score=0.5 + i / 10) for i, k in enumerate(others)])

    def marks(_state: object, incident: Incident) -> list[Mark]:
        first = incident.lifecycle.first_post_at
        return [Mark(first, "<b>HN thread</b>", "hn")] if first else []

    return Section("similar", "Similar past incidents", provide, order=30, prepare=prepare,
                   marks=marks)


UNSEARCHED = "zqxunsearchedword"  # in no fixture incident's text


def unsearched_section() -> Section:
    """A section left out of the built-in search (Section.searchable=False), as the figures
    and similar-incident sections of the features are."""
    return Section("figures", "Figures", lambda _state, i: Text(f"{UNSEARCHED} of {i.key}"),
                   order=35, searchable=False)


def failing_section() -> Section:
    def provide(_state: object, incident: Incident) -> None:
        raise RuntimeError(f"no table for {incident.provider}")

    return Section("broken", "Broken", provide, order=40)


def drafts_collection() -> tuple[Collection, Section]:
    """A stand-in for a feature publishing pages (e.g. postmortem drafts): a page for two
    incidents, Markdown prose with hostile bits, and a section linking each page."""
    keys = ["anthropic/005ym4vzrq2w", "hostile/h0st1le0001"]
    hostile = ("## What happened\n\n*Impact* from 20:14.\n\n[click](javascript:alert(1)) "
               "<img src=https://evil.test/x.png onerror=alert(2)> <script>alert(3)</script>\n\n"
               "| phase | at |\n|---|---|\n| investigating | 20:30 |\n")

    def pages(_store: object) -> list[Page]:
        return [Page(key.replace("/", "-"), f"Draft for {key}", [Prose(hostile)],
                     summary="a draft") for key in keys]

    def link(_state: object, incident: Incident) -> PageLink | None:
        slug = incident.key.replace("/", "-")
        return PageLink("drafts", slug, "Read the draft") if incident.key in keys else None

    return (Collection("drafts", "Drafts", pages, note="Made from public updates."),
            Section("draftlink", "Draft", link, order=61))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Layout, BuildReport]:
    home = tmp_path_factory.mktemp("sitekb")
    store = fixture_db(home)
    layout = find_layout(ROOT / "mkdocs.yml", home / "build")
    report = build_site(store, layout, as_of=AS_OF, extra_sections=[
        similar_section(), unsearched_section(), failing_section(), *drafts_collection()])
    return store, layout, report


def assert_inert(page: BeautifulSoup, where: object) -> None:
    """No script but the theme's own or a local file, no event handler, no javascript: or
    data: link anywhere on a built page (also used by tests/test_site_postmortems.py)."""
    for script in page.find_all("script"):
        if script.get("src"):
            assert not urlsplit(script["src"]).scheme, (where, script["src"])
            continue
        body = script.string or ""
        assert script.get("type") == "application/json" or body.startswith(THEME_SCRIPTS)
        assert "__pwned" not in body, where
    for element in page.find_all(True):
        for attribute, value in element.attrs.items():
            assert not attribute.lower().startswith("on"), (where, element.name)
            if attribute in ("href", "src", "action", "formaction"):
                assert not str(value).strip().lower().startswith(("javascript:", "data:")), where


def page_of(layout: Layout, key: str) -> Path:
    provider, native_id = key.split("/", 1)
    return layout.site / paths.url_of(paths.incident_doc(provider, native_id)) / "index.html"


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")


def test_every_incident_has_its_permalink_page(built: tuple[Store, Layout, BuildReport]) -> None:
    store, layout, report = built
    keys = [i.key for i in store.incidents()]
    assert report.built and report.render.incidents == len(keys) == 19
    for key in keys:
        assert page_of(layout, key).is_file(), key
    assert (layout.site / "incidents/anthropic/005ym4vzrq2w/index.html").is_file()
    # An incident whose id is "index" gets its own page, not the folder's index.
    reserved = page_of(layout, "hostile/index")
    assert reserved.parent.name.startswith("index-")
    assert "reserved page name" in soup(reserved).h1.get_text()


def test_incident_page_has_timeline_picture_and_rows(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    incident = store.get("anthropic/005ym4vzrq2w")
    page = soup(page_of(layout, incident.key))
    assert page.h1.get_text() == incident.title
    picture = page.select_one("svg.kb-timeline")
    assert picture is not None
    assert len(picture.select("line.kb-tick")) == len(incident.updates)
    assert picture.select_one("rect.kb-impact") is not None  # its text states a window
    assert len(picture.select("circle.kb-mark-hn")) == 1  # the stand-in section's mark
    rows = page.select("tr.kb-update")
    assert len(rows) == len(incident.updates)
    assert rows[0].time["datetime"].startswith(incident.updates[0].at.strftime("%Y-%m-%dT%H:%M"))
    assert incident.updates[-1].text.split()[0] in rows[-1].get_text()


def test_hostile_payloads_render_as_inert_text(built: tuple[Store, Layout, BuildReport]) -> None:
    store, layout, _ = built
    incident = store.get(HOSTILE)
    for html_file in [page_of(layout, HOSTILE), layout.site / "index.html",
                      layout.site / "providers/hostile/index.html",
                      layout.site / "years/2026/index.html",
                      # its postmortem draft (published: within 90 days of AS_OF)
                      layout.site / "postmortems/hostile--h0st1le0001/index.html"]:
        page = soup(html_file)
        assert_inert(page, html_file)
        assert not page.select("article img, article iframe, article style")
    page = soup(page_of(layout, HOSTILE))
    title = page.h1.get_text()
    # Shown literally: tags, template syntax, Markdown link; the override made visible.
    assert title.startswith('<script>window.__pwned=1</script>Hostile <img src=x onerror="')
    assert "{{ 7*7 }}" in title and "{% for x in range(3) %}" in title
    assert "[click](javascript:window.__pwned=3)" in title and "[U+202E]evil-rlo" in title
    assert "\u202e" not in page_of(layout, HOSTILE).read_text(encoding="utf-8")
    texts = [td.get_text() for td in page.select("td.kb-text")]
    assert "<script>" not in texts[0] and "a fine link" in texts[0]  # the HTML body, cleaned
    link = page.select_one("td.kb-text a[href]")
    assert link["href"] == "https://example.test/ok" and "nofollow" in link["rel"]
    assert "[click me](javascript:window.__pwned=9)" in texts[1]  # Markdown left as text
    assert "<script>window.__pwned=11</script>" in texts[1]
    assert incident.components[0].name in page.select_one("a.kb-chip").get_text()
    assert "&lt;script&gt;" in page.title.string or "<script>" in page.title.string


def test_a_ten_thousand_character_title_is_clipped_where_it_would_swell_pages(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    incident = store.get("hostile/h0st1le0002")
    assert len(incident.title) == 10_000
    page = soup(page_of(layout, incident.key))
    assert len(page.title.string) < 200
    assert len(page.h1.get_text()) <= 300
    assert page.select_one("td.kb-long").get_text() == " ".join(incident.title.split())
    home = (layout.site / "index.html").read_text(encoding="utf-8")
    assert incident.title[:150] in home and incident.title not in home


def test_internal_links_resolve(built: tuple[Store, Layout, BuildReport]) -> None:
    _, layout, _ = built
    checked = 0
    for html_file in layout.site.rglob("*.html"):
        if html_file.name == "404.html":
            continue  # mkdocs writes it with root-absolute links, for any missing URL
        for element in soup(html_file).select("[href], [src]"):
            target = element.get("href") or element.get("src")
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # off-site (vendor pages) or a fragment on the same page
            resolved = (html_file.parent / unquote(parts.path)).resolve()
            if resolved.is_dir():
                resolved = resolved / "index.html"
            assert resolved.is_file(), f"{html_file.relative_to(layout.site)} → {target}"
            checked += 1
    assert checked > 1000


def test_search_index_finds_a_word_from_the_updates(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    index = json.loads((layout.site / "search/search_index.json").read_text(encoding="utf-8"))
    incident = store.get("anthropic/461yvfrzpwtt")
    words = {w for u in incident.updates for w in re.findall(r"[a-z]{6,}", u.text.lower())}
    others = " ".join(i.title + " ".join(u.text for u in i.updates)
                      for i in store.incidents() if i.key != incident.key).lower()
    word = sorted(w for w in words if w not in others)[0]  # only in this incident's updates
    hits = {d["location"].split("#")[0] for d in index["docs"] if word in d["text"].lower()}
    # Its postmortem draft (kb/drafts/site_sections.py) quotes the updates too.
    assert hits - {"postmortems/anthropic--461yvfrzpwtt/"} == {"incidents/anthropic/461yvfrzpwtt/"}


def test_unsearchable_sections_are_on_the_page_but_not_in_the_index(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    _, layout, _ = built
    index = json.loads((layout.site / "search/search_index.json").read_text(encoding="utf-8"))
    assert not [d for d in index["docs"] if UNSEARCHED in d["text"]]
    assert not [d for d in index["docs"] if d["location"].endswith("#figures")]
    # A searchable section is indexed: the stand-in similar section's links.
    assert [d for d in index["docs"] if d["location"] == "incidents/anthropic/005ym4vzrq2w/#similar"
            and d["text"]]
    # Nor do pictures, listings or provenance reach the index (data-search-exclude), while
    # the page itself shows everything, without the hook's markers or search attributes.
    assert not [d for d in index["docs"] if d["location"].startswith("incidents/")
                and ("sha256" in d["text"] or "<svg" in d["text"] or "<rect" in d["text"])]
    page = page_of(layout, "anthropic/005ym4vzrq2w").read_text(encoding="utf-8")
    assert f"{UNSEARCHED} of anthropic/005ym4vzrq2w" in page
    assert soup(page_of(layout, "anthropic/005ym4vzrq2w")).select_one("svg.kb-timeline")
    for html_file in layout.site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert "kb:search-skip" not in text and "data-search-" not in text, html_file


def test_no_page_says_an_incident_posted_resolved_took_0m(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    once = [i for i in store.incidents()
            if i.lifecycle.resolved_at and i.lifecycle.resolved_at == i.lifecycle.first_post_at]
    assert once  # the fixture has incidents first posted already resolved
    for incident in once:
        text = soup(page_of(layout, incident.key)).get_text(" ")
        assert "(the first post already said resolved)" in text and "0m after" not in text
    listing = soup(layout.site / "incidents/index.html")
    cells = [row.select("td")[-1].get_text() for row in listing.select("table.kb-list tbody tr")]
    assert len(cells) == 19 and "0m" not in cells


def test_feeds_and_export_are_published(built: tuple[Store, Layout, BuildReport]) -> None:
    store, layout, _ = built
    everything = feedparser.parse((layout.site / "feeds/all.atom").read_bytes())
    assert not everything.bozo and len(everything.entries) == 19
    github = feedparser.parse((layout.site / "feeds/github.atom").read_bytes())
    assert {e.id for e in github.entries} == {
        "urn:outage-kb:incident:github/01sqkcp7z62r", "urn:outage-kb:incident:github/024l0wdz0c50"
    }
    lines = (layout.site / "data/incidents.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(
        i.key for i in store.incidents())


def test_sections_plug_in_and_a_broken_one_is_reported(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    _, layout, report = built
    page = soup(page_of(layout, "anthropic/005ym4vzrq2w"))
    heading = page.select_one("h2#similar")
    assert heading is not None and heading.get_text() == "Similar past incidents"
    links = page.select(".kb-section-similar a.kb-incident-link")
    assert len(links) == 3 and page.select(".kb-section-similar .kb-score")
    assert page.select_one("h2#broken") is None
    assert "section broken: anthropic/005ym4vzrq2w: no table for anthropic" in (
        report.render.failures)
    # The table of contents comes from the generated headings (site/hooks/kb_pages.py).
    # Other features' sections (kb/*/site_sections.py) may sit between; ours keep their order.
    toc = [a.get_text(strip=True) for a in page.select("nav.md-nav--secondary a")]
    assert toc[0] == "Timeline" and toc[-1] == "Sources" and "Broken" not in toc
    assert toc.index("Similar past incidents") == 1


def test_collections_add_pages_with_cleaned_prose(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    _, layout, _ = built
    index = soup(layout.site / "drafts/index.html")
    assert [a.get_text() for a in index.select(".kb-collection a")] == [
        "Draft for anthropic/005ym4vzrq2w", "Draft for hostile/h0st1le0001"]
    home = soup(layout.site / "index.html")
    assert home.select_one(".kb-recent a[href='drafts/']").get_text() == "Drafts"
    page = soup(layout.site / "drafts/anthropic-005ym4vzrq2w/index.html")
    prose = page.select_one(".kb-prose")
    assert prose.select_one("h3").get_text() == "What happened"  # demoted below the page's h2
    assert prose.select_one("em").get_text() == "Impact"
    assert [c.get_text() for c in prose.select("td")] == ["investigating", "20:30"]
    assert not prose.select("img, script") and "alert" not in str(prose)
    assert prose.select_one("a").get("href") is None  # the javascript: link lost its href
    incident = soup(page_of(layout, "anthropic/005ym4vzrq2w"))
    link = incident.select_one(".kb-section-draftlink a.kb-page-link")
    assert link["href"] == "../../../drafts/anthropic-005ym4vzrq2w/"
    other = soup(page_of(layout, "anthropic/t33dncr5ydvl"))
    assert other.select_one(".kb-section-draftlink") is None


def test_second_build_rewrites_nothing_and_skips_mkdocs(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    before = {p: p.stat().st_mtime_ns for p in layout.site.rglob("*.html")}
    again = build_site(store, layout, as_of=AS_OF, extra_sections=[
        similar_section(), unsearched_section(), failing_section(), *drafts_collection()])
    assert again.render.written == [] and again.render.removed == []
    assert not again.built
    assert {p: p.stat().st_mtime_ns for p in layout.site.rglob("*.html")} == before


def test_a_changed_incident_rewrites_its_pages_only(tmp_path: Path) -> None:
    store = fixture_db(tmp_path)
    docs = tmp_path / "docs"
    first = render_site(store, docs, ROOT / "site", as_of=AS_OF)
    assert len(first.written) == len(set(first.written)) > 19
    page = docs / "incidents/anthropic/005ym4vzrq2w.md"
    untouched = docs / "incidents/openai/01M2EWYR55J47M2BPG9WC76VEG.md"
    stale = docs / "incidents/github/leftover.md"
    stale.write_text("an incident no longer in the database")
    marks = {p: p.stat().st_mtime_ns for p in (page, untouched)}

    payload = json.loads((FIX / "github_01sqkcp7z62r.json").read_text())
    payload["page"]["updated_at"] = "2030-01-01T00:00:00Z"
    payload["incident"]["name"] = "Renamed by the vendor"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(payload))
    report = ingest(Line(store, Archive(tmp_path / "raw"), SOURCES), [changed])
    assert report.total("updated") == 1

    second = render_site(store, docs, ROOT / "site", as_of=AS_OF)
    assert "incidents/github/01sqkcp7z62r.md" in second.written
    assert "incidents/anthropic/005ym4vzrq2w.md" not in second.written
    assert {p: p.stat().st_mtime_ns for p in (page, untouched)} == marks
    assert second.removed == ["incidents/github/leftover.md"]
    assert not stale.exists()
    assert "Renamed by the vendor" in (docs / "incidents/github/01sqkcp7z62r.md").read_text()
    assert len(second.written) < 15  # that page, the lists naming it, feeds and export




@pytest.mark.slow
def test_cli_build_then_stage_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Which postmortem drafts are published depends on the as-of date (the build below is as
    # of 2026-09-15, the stage as of today): none here; tests/test_site_postmortems.py.
    monkeypatch.setenv("KB_SITE_DRAFT_DAYS", "0")
    home = tmp_path / "home"
    assert kb(home, "ingest", str(FIX)).returncode == 0
    out = tmp_path / "out"
    result = kb(home, "site", "build", "--out", str(out), "--as-of", "2026-09-15", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["incidents"] == 19 and summary["mkdocs_ran"] is True
    assert (out / "site/incidents/github/01sqkcp7z62r/index.html").is_file()
    again = kb(home, "site", "build", "--out", str(out), "--as-of", "2026-09-15", "--json")
    assert json.loads(again.stdout)["mkdocs_ran"] is False
    assert json.loads(again.stdout)["written"] == 0

    # The `site` stage of `kb update`: same folder via KB_SITE_DIR. Its bars end today, so
    # the home page may change; the incident pages must not.
    page = out / "docs/incidents/github/01sqkcp7z62r.md"
    mark = page.stat().st_mtime_ns
    monkeypatch.setenv("KB_SITE_DIR", str(out))
    settings = load_settings({"KB_HOME": str(home)})
    store, _ = Store.open(settings.database_url)
    context = StageContext(store, settings, RunReport())
    run_later_stages(context, only=["site"])
    assert not context.report.failures
    notes = [n for n in context.report.notes if n.startswith("site:")]
    assert len(notes) == 1
    assert re.fullmatch(rf"site: {summary['pages']} pages, \d+ files written, 0 removed; "
                        r"(site unchanged|mkdocs \d+\.\d s); in " + re.escape(str(out / "site")),
                        notes[0]), notes
    assert page.stat().st_mtime_ns == mark


def test_cli_serve_refuses_a_missing_site(tmp_path: Path) -> None:
    result = kb(tmp_path, "site", "serve", "--out", str(tmp_path / "nothing"))
    assert result.returncode == 3
    assert "no built site" in result.stderr and "kb site build" in result.stderr


def test_a_folder_the_build_did_not_make_is_refused_not_pruned(tmp_path: Path) -> None:
    store = fixture_db(tmp_path)
    foreign = tmp_path / "Documents"
    (foreign / "notes").mkdir(parents=True)
    (foreign / "notes" / "todo.md").write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        render_site(store, foreign, ROOT / "site", as_of=AS_OF)
    assert (foreign / "notes" / "todo.md").read_text() == "mine"
    layout = find_layout(ROOT / "mkdocs.yml", tmp_path / "out")
    (layout.site / "photos").mkdir(parents=True)
    with pytest.raises(ConfigError, match="did not write"):
        build_site(store, layout, as_of=AS_OF)
    assert (layout.site / "photos").is_dir()
