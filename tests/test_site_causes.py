"""The "causes" collection (kb/analysis/site_sections.py): /causes/ and a page per cause tag,
built from stored tags on the hand-written acme fixture KB (tests/fixtures/site_sections)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kb.analysis import site_sections
from kb.analysis.stage import RULES_ID
from kb.render.sections import BuildContext, Links, Page, PageLink, Table, Text, discover
from kb.render.site import render_site
from kb.store import Store
from kb.store.analysis import CauseRecord, incident_hashes, write_causes
from tests.test_site_reliability import acme_store

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "site_sections"
AS_OF = date(2026, 9, 14)
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> {{ 7*7 }}'


def tag(name: str, evidence: str = "a sentence", stated_as: str = "cause") -> CauseRecord:
    return CauseRecord(name, "rule", evidence, "test", stated_as)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = acme_store(tmp_path)
    hashes = incident_hashes(opened)
    write_causes(opened, {  # as the current rules would store them (RULES_ID)
        "acme/acme0000000": (hashes["acme/acme0000000"], RULES_ID,
                             [tag("config-deploy", "A bad config push in 2025.")]),
        "acme/acme0000001": (hashes["acme/acme0000001"], RULES_ID,
                             [tag("config-deploy", HOSTILE, "symptom"), tag("network")]),
        "acme/acme0000002": (hashes["acme/acme0000002"], RULES_ID,
                             [tag("database-storage", "A database index was missing."),
                              tag("unknown", "")]),
    })
    return opened


def cause_pages(store: Store) -> dict[str, Page]:
    registry = discover(site_sections.SECTIONS + site_sections.COLLECTIONS, scan=False)
    registry.prepare(store, BuildContext(store, AS_OF))
    assert registry.failures == []
    return {page.slug: page for page in registry.pages[site_sections.CAUSE_PAGES]}


def test_a_page_per_tag_in_use_and_none_for_unknown(store: Store) -> None:
    pages = cause_pages(store)
    # In kb.analysis.causes.Cause order, not alphabetical; "unknown" is no cause.
    assert list(pages) == ["config-deploy", "network", "database-storage"]
    assert pages["config-deploy"].title == "Cause: configuration change/deploy"
    assert pages["config-deploy"].summary == (
        "2 incidents, 1 provider, 1 stating it as the cause; newest 2026-09-01")


def test_the_page_counts_per_provider_and_lists_incidents_newest_first(store: Store) -> None:
    page = cause_pages(store)["config-deploy"]
    tables = [b for b in page.blocks if isinstance(b, Table)]
    # 2025-03-01 is more than 365 days before AS_OF; the 2026 incident states config-deploy
    # only as a symptom, so it counts apart: stated causes (365 days, all time), symptoms
    assert [tuple(r) for r in tables[0].rows] == [("Acme Status", "0", "1", "1")]
    lists = [b for b in page.blocks if isinstance(b, Links)]
    assert [b.caption for b in lists] == ["2026", "2025"]
    assert [(i.key, i.note) for b in lists for i in b.items] == [
        ("acme/acme0000001", f"“{HOSTILE}” (rule, a symptom (what failed))"),
        ("acme/acme0000000", "“A bad config push in 2025.” (rule, stated as the cause)"),
    ]


def test_a_long_list_is_cut_and_says_so(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_sections, "LISTED_PER_CAUSE", 1)
    page = cause_pages(store)["config-deploy"]
    assert [i.key for b in page.blocks if isinstance(b, Links) for i in b.items] == [
        "acme/acme0000001"]
    notes = [b.text for b in page.blocks if isinstance(b, Text)]
    assert "The 1 newest of 2 are listed below. kb search QUERY --cause config-deploy " \
           "searches all of them." in notes


def test_no_tags_no_collection(tmp_path: Path) -> None:
    opened = acme_store(tmp_path)
    registry = discover(site_sections.SECTIONS + site_sections.COLLECTIONS, scan=False)
    registry.prepare(opened, BuildContext(opened, AS_OF))
    assert registry.collections == [] and registry.failures == []


def test_the_site_links_cause_pages_from_home_incidents_and_providers(
    store: Store, tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    report = render_site(store, docs, ROOT / "site", as_of=AS_OF)
    assert not [line for line in report.failures if "cause" in line], report.failures
    home = BeautifulSoup((docs / "index.md").read_text(), "lxml")
    assert "causes/" in {a["href"] for a in home.select("a")}
    index = BeautifulSoup((docs / "causes/index.md").read_text(), "lxml")
    assert [a.get_text() for a in index.select(".kb-links a")] == [
        "Cause: configuration change/deploy", "Cause: network", "Cause: database/storage"]
    incident = BeautifulSoup((docs / "incidents/acme/acme0000002.md").read_text(), "lxml")
    links = {a.get_text(): a["href"] for a in incident.select(".kb-section-causes a")}
    assert links == {"Other incidents tagged database/storage":
                     "../../../causes/database-storage/"}
    provider = BeautifulSoup((docs / "providers/acme.md").read_text(), "lxml")
    assert [a["href"] for a in provider.select(".kb-section-causes a.kb-page-link")] == [
        "../../causes/config-deploy/", "../../causes/database-storage/", "../../causes/network/"]
    # The hostile evidence sentence is text on the cause page, never markup.
    page = BeautifulSoup((docs / "causes/config-deploy.md").read_text(), "lxml")
    assert page.find("script") is None and page.find("img") is None
    assert HOSTILE in page.get_text()


def test_page_link_blocks_name_the_collection() -> None:
    # The incident and provider slots link by collection name: a rename would break them.
    blocks = site_sections._causes(  # type: ignore[arg-type]
        type("S", (), {"causes": {"p/i": [tag("dns")]}})(), type("I", (), {"key": "p/i"})())
    assert blocks is not None
    (links,) = [b for b in blocks if isinstance(b, Links)]
    assert links.items == [PageLink("causes", "dns", "Other incidents tagged DNS")]
