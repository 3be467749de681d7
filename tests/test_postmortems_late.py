"""Late write-ups and news (issue 16): an article a day after an outage that names the provider
and says "API outage" but no date, sharing few words with the status page, links to the
provider's only major incident of that week with medium confidence and the reason; with two
major incidents that week it is left unlinked (the signal linker, kb.signals.link)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from kb.model import Severity
from kb.signals.link import Linker
from tests.test_link import CONFIG, T0, incident, signal

TEXT = "Developers reported failed builds and timeouts throughout the afternoon."


def test_late_news_links_the_only_major_incident_of_the_week_with_the_reason() -> None:
    major = incident("big", T0, 180, "Incident with Git Operations", severity=Severity.MAJOR)
    minor = incident("small", T0 - timedelta(days=2), 20, "Delayed webhooks")
    news = signal("GitHub API outage frustrates developers", T0 + timedelta(days=1, hours=2),
                  kind="news", source="news", site="The Register", text=TEXT,
                  url="https://www.theregister.com/2026/08/18/github_api_outage/")
    (link,) = Linker([major, minor], CONFIG).link(news)
    assert link.incident_key == "github/big" and link.rule == "late-only"
    assert link.confidence == "medium" and "only major github incident" in link.evidence["why"]


def test_two_major_incidents_that_week_leave_it_unlinked() -> None:
    one = incident("one", T0, 180, "Incident with Git Operations", severity=Severity.MAJOR)
    two = incident("two", T0 - timedelta(days=3), 90, "Incident with Pages",
                   severity=Severity.CRITICAL)
    late = signal("GitHub API outage: what went wrong", T0 + timedelta(days=4), kind="late",
                  url="https://example.blog/github-api-outage")
    assert Linker([one, two], CONFIG).link(late) == []


def test_no_outage_words_no_link() -> None:
    major = incident("big", T0, 180, "Incident with Git Operations", severity=Severity.MAJOR)
    late = signal("Thoughts on GitHub's roadmap", T0 + timedelta(days=2), kind="late",
                  url="https://example.blog/github-roadmap")
    assert Linker([major], CONFIG).link(late) == []


def _writeup(**fields):  # type: ignore[no-untyped-def]
    from kb.store.postmortems import Postmortem

    values = dict(id="pm-1", url="https://example.blog/github-api-outage",
                  title="GitHub API outage: a look back", provider="github",
                  providers=("github",), company="GitHub", products=(), start=None, end=None,
                  published_at=T0 + timedelta(days=1), categories=(), keywords=(),
                  summary="Developers could not reach the API.", text="", sources=(("x", "1"),),
                  status="undated")
    values.update(fields)
    return Postmortem(**values)


def test_undated_writeup_links_the_only_major_incident_before_publication() -> None:
    from kb.postmortems.link import Linker as WriteupLinker

    major = incident("big", T0, 180, "Incident with Git Operations", severity=Severity.MAJOR)
    minor = incident("small", T0 - timedelta(days=2), 20, "Delayed webhooks")
    (link,), doc = WriteupLinker([major, minor], CONFIG.providers).link(_writeup())
    assert link.incident_key == "github/big" and link.confidence == "medium"
    assert link.rule == "only" and "only major github incident" in link.evidence["why"]
    # two major incidents that week: unlinked, with the candidates considered and why
    other = incident("other", T0 - timedelta(days=1), 60, "Incident with Pages",
                     severity=Severity.CRITICAL)
    found, doc = WriteupLinker([major, minor, other], CONFIG.providers).link(_writeup())
    assert found == [] and {c["incident_key"] for c in doc.candidates} == {
        "github/big", "github/small", "github/other"}
    assert all("too few words in common" in c["why"] for c in doc.candidates)


# -- the same on recorded incidents, through the store and the CLI --------------------------

_FIXTURES = Path(__file__).parent / "fixtures"
_REGISTER = (_FIXTURES / "signals" / "article_register.html").read_text()


def _article(tmp_path: Path, name: str, title: str, published: str) -> Path:
    """The Register's recorded article frame (tests/fixtures/signals/ORIGIN.md) with another
    headline, URL and publication time; the lead names no day."""
    body = (_REGISTER.replace("Millions forced to use brain as OpenAI's ChatGPT takes morning off",
                              title)
            .replace("2024-06-04T16:38:02+00:00", published)
            .replace("https://www.theregister.com/2024/06/04/openai_chatgpt_outage/",
                     f"https://www.theregister.com/2026/09/16/{name}/"))
    path = tmp_path / f"{name}.html"
    path.write_text(body)
    return path


def test_late_article_on_recorded_incidents_links_or_lists_candidates(tmp_path: Path) -> None:
    """Recorded slices: Anthropic's one major incident of 15 Sep 2026 (6304r9jjhj34), and
    OpenAI's minor and no-impact incidents of 13-14 Sep. Articles saying "API outage", naming
    no day and sharing few words with the status pages: a day after, the Anthropic one links
    by the news window with medium confidence and the reason; three days after (past the news
    window) by the late-only rule with medium confidence and "the only major ... incident";
    the OpenAI one, past the news window of its incidents and with no major incident that
    week, is listed as unlinked with both incidents considered and why."""
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.pipeline import Line, ingest
    from kb.signals.config import load_signal_config
    from kb.signals.stage import relink
    from kb.store import Store
    from kb.store.signals import links, signals
    from scrapers.archive import Archive
    from tests.conftest import invoke_kb

    home = tmp_path / "home"
    home.mkdir()
    sources = load_sources(PACKAGED_SOURCES)
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    ingest(Line(store, Archive(tmp_path / "raw"), sources), [
        _FIXTURES / "statuspage" / "anthropic_slice.json",
        _FIXTURES / "statuspage" / "openai_slice.json",
        _article(tmp_path, "anthropic_api_outage", "Anthropic API outage frustrates developers",
                 "2026-09-16T10:05:00+00:00"),
        _article(tmp_path, "anthropic_look_back", "Anthropic's API outage, looked back on",
                 "2026-09-18T12:00:00+00:00"),
        _article(tmp_path, "openai_api_outage", "OpenAI API outage frustrates developers",
                 "2026-09-17T09:30:00+00:00")])
    relink(store, load_signal_config(PACKAGED_SOURCES, sources))
    titles = {s.id: s.title for s in signals(store)}
    found = {titles[k.signal_id]: k for k in links(store)}
    store.close()
    day_after = found["Anthropic API outage frustrates developers"]
    assert day_after.incident_key == "anthropic/6304r9jjhj34"
    assert day_after.confidence == "medium" and "h after the first post" in \
        day_after.evidence["why"]
    later = found["Anthropic's API outage, looked back on"]
    assert later.incident_key == "anthropic/6304r9jjhj34" and later.rule == "late-only"
    assert later.confidence == "medium"
    assert "only major anthropic incident" in later.evidence["why"]
    assert not [k for k in found.values() if k.provider == "openai"]
    listed = invoke_kb(home, "signals", "--unlinked", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["provider"] == "openai" and row["title"].startswith("OpenAI API outage")
    considered = {c["incident_key"]: c["why"] for c in row["considered"]}
    assert set(considered) == {"openai/01M2D1CZG0862JB4JHVW56QF89",
                               "openai/01M2H3J1D6Y7RHAP49GRWGJAY0"}
    assert all("no major openai incident" in why for why in considered.values())
    table = invoke_kb(home, "signals", "--unlinked")
    assert "01M2D1CZG0862JB4JHVW56QF89" in table.stdout
