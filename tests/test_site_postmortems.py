"""Published postmortem drafts (kb/drafts/site_sections.py): a page per incident first posted in
the `draft_days` before the site's as-of date, linked from its incident page; older incidents
keep the preview; hostile update text stays inert on the draft page; a draft that fails is one
line and its incident keeps the preview; `draft_days = 0` publishes none.

The site is built once for the module (mkdocs included) from tests/fixtures/site_sections (Acme:
2025-03-01, 2026-09-01, 2026-09-05) and tests/fixtures/site (the hostile payloads among
others), as of 2026-09-14 with `KB_SITE_DRAFT_DAYS=14`: drafts for 2026-09-01 … 09-14.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kb.config import PACKAGED_SOURCES, load_settings, load_sources
from kb.drafts import site_sections as drafts
from kb.pipeline import Line, ingest
from kb.render import paths
from kb.render.build import BuildReport, Layout, build_site, find_layout
from kb.render.site import render_site
from kb.store import Store
from scrapers.archive import Archive
from tests.test_site_build import assert_inert

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [ROOT / "tests" / "fixtures" / "site_sections", ROOT / "tests" / "fixtures" / "site"]
AS_OF = date(2026, 9, 14)
RECENT = "acme/acme0000002"  # first posted 2026-09-05: drafted
OLD = "acme/acme0000000"  # 2025-03-01: preview only
HOSTILE = "hostile/h0st1le0001"


def fixture_store(home: Path) -> Store:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    report = ingest(Line(store, Archive(home / "raw"),
                         load_sources(PACKAGED_SOURCES)), FIXTURES)
    assert not report.failures, report.failures
    return store


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Layout,
                                                                      BuildReport]]:
    home = tmp_path_factory.mktemp("draftsite")
    store = fixture_store(home)
    layout = find_layout(ROOT / "mkdocs.yml", home / "build")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KB_SITE_DRAFT_DAYS", "14")  # the build reads it as the CLI would
        patch.delenv("KB_CONFIG", raising=False)
        patch.setenv("KB_HOME", str(home))
        report = build_site(store, layout, as_of=AS_OF)
    yield store, layout, report


def html_of(layout: Layout, doc: str) -> Path:
    return layout.site / paths.url_of(doc) / "index.html"


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")


def incident_html(layout: Layout, key: str) -> Path:
    provider, native_id = key.split("/", 1)
    return html_of(layout, paths.incident_doc(provider, native_id))


def draft_html(layout: Layout, key: str) -> Path:
    return html_of(layout, paths.collection_doc(drafts.NAME, drafts.draft_slug(key)))


def test_recent_incidents_get_a_draft_page_with_footnotes(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, report = built
    assert report.render.failures == []
    page = soup(draft_html(layout, RECENT))
    assert page.h1.get_text() == "Postmortem draft: Slow dashboard loads"
    prose = page.select_one(".kb-prose")
    assert prose is not None
    # The provider's own sentence, quoted, with a footnote marker after it.
    quoted = next(p for p in prose.find_all(["li", "p"])
                  if "A database index was missing after the migration" in p.get_text())
    assert quoted.find("sup") is not None and quoted.find("sup").get_text().startswith("[")
    # The footnotes: a numbered list naming each source, at least one with the stored payload.
    notes = prose.find_all("ol")[-1].find_all("li", recursive=False)
    marks = {s.get_text() for s in prose.find_all("sup")}
    assert len(notes) == len(marks) >= 2
    assert any("Status page update" in n.get_text() for n in notes)
    sha = store.sources_of([RECENT])[RECENT][0].sha256
    assert any(sha in n.get_text() for n in notes)
    # Draft sections as headings below the page's own; the timeline as a table.
    headings = [h.get_text() for h in prose.select("h3")]
    assert headings[:3] == ["Summary", "Impact", "Root causes"] and "Timeline" in headings
    assert [th.get_text() for th in prose.select("table th")][:2] == ["Time (UTC)", "Event"]
    assert not prose.select("h1, h2")
    assert "kb postmortem acme/acme0000002 --template sre" in page.select_one(".kb-page").get_text()


def test_the_incident_page_links_to_its_draft_and_an_old_one_keeps_the_preview(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    _, layout, _ = built
    recent = incident_html(layout, RECENT)
    link = soup(recent).select_one(".kb-section-postmortem a.kb-page-link")
    assert link is not None and link.get_text() == "Read the postmortem draft"
    assert (recent.parent / link["href"] / "index.html").resolve() == \
        draft_html(layout, RECENT).resolve()
    assert "What a postmortem draft starts from" not in soup(recent).get_text()
    old = soup(incident_html(layout, OLD)).select_one(".kb-section-postmortem")
    assert old is not None and old.select_one("a.kb-page-link") is None
    assert "What a postmortem draft starts from" in old.get_text()
    assert f"kb postmortem {OLD} --template sre" in old.get_text()
    assert not draft_html(layout, OLD).exists()


def test_the_drafts_index_lists_exactly_the_window(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    store, layout, _ = built
    index = soup(layout.site / drafts.NAME / "index.html")
    titles = [a.get_text() for a in index.select(".kb-collection a")]
    window = [i for i in store.incidents() if i.kind.value == "incident"
              and date(2026, 9, 1) <= i.lifecycle.first_post_at.date() <= AS_OF]
    assert len(titles) == len(window) >= 5
    newest = max(window, key=lambda i: i.lifecycle.first_post_at)
    assert titles[0] == f"Postmortem draft: {newest.title}"  # newest first
    assert "Postmortem draft: Slow dashboard loads" in titles
    assert "Postmortem draft: Name resolution failures" not in titles  # 2025
    home = soup(layout.site / "index.html")
    assert home.select_one(f".kb-recent a[href='{drafts.NAME}/']") is not None


def test_hostile_update_text_stays_inert_on_the_draft_page(
    built: tuple[Store, Layout, BuildReport],
) -> None:
    _, layout, _ = built
    path = draft_html(layout, HOSTILE)
    page = soup(path)
    assert_inert(page, path)
    prose = page.select_one(".kb-prose")
    assert not prose.select("img, iframe, svg, style, script")
    text = prose.get_text()
    # Shown literally, as text: tags, the Markdown link trick, template syntax.
    assert "<script>window.__pwned=1</script>Hostile" in text
    assert "[click](javascript:window.__pwned=3)" in text and "{{ 7*7 }}" in text
    assert "\u202e" not in path.read_text(encoding="utf-8")  # the override made visible
    assert all(a.get("href", "https://").startswith("https://") for a in prose.select("a"))


def test_rebuilding_rewrites_no_draft(built: tuple[Store, Layout, BuildReport]) -> None:
    store, layout, _ = built
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KB_SITE_DRAFT_DAYS", "14")
        again = build_site(store, layout, as_of=AS_OF)
    assert again.render.written == [] and not again.built


def test_draft_days_zero_publishes_none(tmp_path: Path) -> None:
    store = fixture_store(tmp_path)
    settings = dataclasses.replace(load_settings({"KB_HOME": str(tmp_path)}), site_draft_days=0)
    docs = tmp_path / "docs"
    report = render_site(store, docs, ROOT / "site", as_of=AS_OF, settings=settings)
    assert report.failures == []
    assert not (docs / drafts.NAME).exists()  # no page, and no empty index either
    assert f'href="{drafts.NAME}/"' not in (docs / "index.md").read_text(encoding="utf-8")
    page = (docs / paths.incident_doc("acme", "acme0000002")).read_text(encoding="utf-8")
    assert "What a postmortem draft starts from" in page and "kb-page-link" not in page


def test_a_draft_that_fails_is_one_line_and_keeps_the_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = fixture_store(tmp_path)
    real = drafts.draft_from_incident

    def flaky(incident, **kwargs):  # type: ignore[no-untyped-def]
        if incident.key == RECENT:
            raise ValueError("citation table\nbroken")
        return real(incident, **kwargs)

    monkeypatch.setattr(drafts, "draft_from_incident", flaky)
    settings = dataclasses.replace(load_settings({"KB_HOME": str(tmp_path)}),
                                   site_draft_days=14)
    docs = tmp_path / "docs"
    report = render_site(store, docs, ROOT / "site", as_of=AS_OF, settings=settings)
    assert report.failures == [
        f"collection {drafts.NAME}: {RECENT}: no draft: citation table broken"]
    page = (docs / paths.incident_doc("acme", "acme0000002")).read_text(encoding="utf-8")
    assert "What a postmortem draft starts from" in page
    assert (docs / paths.collection_doc(drafts.NAME, drafts.draft_slug("acme/acme0000001"))
            ).is_file()  # the others are published


def test_draft_slugs_are_readable_and_cannot_meet() -> None:
    assert drafts.draft_slug("github/zjchv3zvfg50") == "github--zjchv3zvfg50"
    a, b = drafts.draft_slug("a--b/c"), drafts.draft_slug("a/b--c")
    assert paths.collection_doc(drafts.NAME, a) != paths.collection_doc(drafts.NAME, b)
