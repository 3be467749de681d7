"""Late write-ups and news (issue 16): an article a day after an outage that names the provider
and says "API outage" but no date, sharing few words with the status page, links to the
provider's only major incident of that week with medium confidence and the reason; with two
major incidents that week it is left unlinked (the signal linker, kb.signals.link)."""

from __future__ import annotations

from datetime import timedelta

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
