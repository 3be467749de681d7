"""The linker on hand-built incidents and signals: windows by kind, URL and named-day rules,
provider matching, unofficial candidates and the derived figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.model import (
    Component,
    Incident,
    Kind,
    Lifecycle,
    Phase,
    Severity,
    Signal,
    SignalSource,
    Update,
)
from kb.signals.config import ProviderTerms, SignalConfig
from kb.signals.link import Linker
from kb.signals.match import match_providers
from kb.signals.stage import link_all

T0 = datetime(2026, 8, 17, 13, 40, tzinfo=UTC)
CONFIG = SignalConfig(providers=(
    ProviderTerms("github", ("GitHub",), ("GitHub Actions", "GitHub Copilot"),
                  ("github.com", "github.blog"), ("githubstatus.com",)),
    ProviderTerms("anthropic", ("Anthropic", "Claude"), ("Claude Code", "Opus"),
                  ("anthropic.com", "claude.ai"), ("status.claude.com",)),
    ProviderTerms("cloudflare", ("Cloudflare",), (), ("cloudflare.com",),
                  ("cloudflarestatus.com",)),
))


def incident(native_id: str, start: datetime, minutes: int | None, title: str = "Incident",
             provider: str = "github", components: tuple[str, ...] = (),
             severity: Severity = Severity.MINOR, kind: Kind = Kind.INCIDENT,
             text: str = "We are investigating reports of degraded performance.") -> Incident:
    end = start + timedelta(minutes=minutes) if minutes is not None else None
    return Incident(
        provider=provider, native_id=native_id, title=title, kind=kind, status="resolved",
        severity=severity, components=tuple(Component(c) for c in components),
        lifecycle=Lifecycle(first_post_at=start, resolved_at=end),
        updates=(Update(at=start, phase=Phase.INVESTIGATING, label="investigating",
                        body=text, text=text),),
    )


def signal(title: str, at: datetime, *, url: str | None = None, kind: str = "live",
           source: str = "hackernews", sid: str | None = None, author: str | None = None,
           site: str | None = None, text: str = "") -> Signal:
    native = sid or str(abs(hash((title, at))) % 10 ** 8)
    return Signal(
        id=f"{source}:{native}", title=title, url=url,
        discussion_url=f"https://news.ycombinator.com/item?id={native}", created_at=at,
        kind=kind, providers=(), author=author, site=site, text=text,
        sources=(SignalSource(source, native, url, None, at, site),),
    )


def links(signals: list[Signal], incidents: list[Incident]) -> dict[str, list[str]]:
    found, _ = link_all(signals, incidents, CONFIG)
    out: dict[str, list[str]] = {}
    for link in found:
        out.setdefault(link.signal_id, []).append(link.incident_key)
    return out


# --------------------------------------------------------------------------- live window


@pytest.mark.parametrize(("offset_min", "linked"), [
    (-3, True), (-150, True), (-200, False), (-400, False), (30, True), (60 + 50, True),
    (60 + 70, False),
])
def test_live_window_from_hours_before_to_shortly_after(offset_min: int, linked: bool) -> None:
    # With no words in common, time alone links from ~3 h before to ~1 h after.
    s = signal("GitHub is down", T0 + timedelta(minutes=offset_min))
    got = links([s], [incident("a", T0, 60)])
    assert (got.get(s.id) == ["github/a"]) is linked


def test_shared_words_stretch_the_live_window_up_to_its_ends() -> None:
    inc = incident("a", T0, 60, "Webhook deliveries delayed", text="Webhook deliveries delayed")
    near = signal("GitHub webhook deliveries delayed", T0 - timedelta(minutes=300))
    far = signal("GitHub webhook deliveries delayed", T0 - timedelta(minutes=400))
    got = links([near, far], [inc])
    assert got.get(near.id) == ["github/a"] and far.id not in got


def test_link_evidence_names_alias_offset_and_similarity() -> None:
    s = signal("GitHub down again? no PR access", T0 - timedelta(minutes=3))
    (link,) = Linker([incident("a", T0, 60, "Incident with Pull Requests")], CONFIG).link(s)
    assert link.rule == "live" and link.provider == "github"
    assert link.evidence["alias"] == "GitHub" and link.evidence["alias_in"] == "title"
    assert link.evidence["offset_s"] == -180
    assert link.evidence["time_score"] == 1.0
    assert link.score == pytest.approx(0.7 + 0.3 * link.evidence["similarity"], abs=1e-3)
    assert link.confidence == ("high" if link.score >= 0.8 else "medium")


def test_concurrent_incidents_the_one_the_title_names_wins() -> None:
    actions = incident("act", T0, 120, "Incident with Actions", components=("Actions",))
    pages = incident("pag", T0 + timedelta(minutes=5), 120, "Incident with Pages",
                     components=("Pages",))
    s = signal("GitHub Pages is currently degraded", T0 + timedelta(minutes=30))
    assert links([s], [actions, pages])[s.id] == ["github/pag"]


def test_a_story_without_outage_words_is_not_linked_on_time() -> None:
    s = signal("Show HN: my GitHub profile generator", T0 + timedelta(minutes=5),
               url="https://github.com/someone/tool")
    assert links([s], [incident("a", T0, 60)]) == {}


def test_maintenance_is_never_linked() -> None:
    s = signal("GitHub is down", T0 + timedelta(minutes=5))
    assert links([s], [incident("m", T0, 60, kind=Kind.MAINTENANCE)]) == {}


# --------------------------------------------------------------------------- URL rule


def test_status_page_url_links_whatever_the_time() -> None:
    s = signal("Incident with Actions", T0 + timedelta(days=3),
               url="https://www.githubstatus.com/incidents/a")
    (link,) = Linker([incident("a", T0, 60)], CONFIG).link(s)
    assert (link.incident_key, link.rule, link.score, link.confidence) == (
        "github/a", "url", 1.0, "high")


def test_url_naming_an_unstored_incident_blocks_time_links() -> None:
    s = signal("GitHub is down", T0 + timedelta(minutes=5),
               url="https://www.githubstatus.com/incidents/notstored")
    linker = Linker([incident("a", T0, 60)], CONFIG)
    assert linker.link(s) == []
    assert linker.unknown_named == {s.id: {"github"}}


# --------------------------------------------------------------------------- late signals


def test_late_writeup_links_to_the_incident_it_names_not_the_open_one() -> None:
    named = incident("aug17", T0, 455, "Incident with GitHub.com", severity=Severity.MAJOR)
    small = incident("aug17b", T0 + timedelta(hours=3), 20, "Incident with Webhooks")
    open_now = incident("aug20", T0 + timedelta(days=3), 600, "Intermittent failures")
    s = signal("The August 17 outage, and the work ahead", T0 + timedelta(days=3, hours=5),
               url="https://github.blog/news-insights/the-august-17-outage/", kind="late")
    (link,) = Linker([named, small, open_now], CONFIG).link(s)
    assert link.incident_key == "github/aug17" and link.rule == "late-named"
    assert link.evidence["named_day"] == "2026-08-17"
    assert link.evidence["same_day_incidents"] == 2


def test_late_writeup_without_a_day_needs_to_read_like_the_incident() -> None:
    inc = incident("a", T0, 60, "Webhook deliveries delayed", text="Webhook deliveries delayed")
    vague = signal("An update on GitHub availability", T0 + timedelta(days=1), kind="late")
    close = signal("GitHub webhook deliveries delayed: a postmortem", T0 + timedelta(days=1),
                   kind="late")
    got = links([vague, close], [inc])
    assert vague.id not in got and got[close.id] == ["github/a"]


def test_news_names_a_weekday() -> None:
    inc = incident("wed", datetime(2024, 8, 14, 23, 11, tzinfo=UTC), 79,
                   "All GitHub services are experiencing significant disruptions")
    s = signal("GitHub Promises 'Additional Guardrails' After Wednesday's Update Triggers "
               "Short Outage", datetime(2024, 8, 17, 14, 34, tzinfo=UTC), kind="news",
               source="news")
    assert links([s], [inc])[s.id] == ["github/wed"]


# --------------------------------------------------------------------------- providers


def test_provider_matching_by_title_products_and_status_hosts() -> None:
    def slugs(title: str, url: str | None = None) -> list[str]:
        return [m.provider for m in match_providers(title, [url], "", CONFIG.providers)]

    assert slugs("Claude Code is down") == ["anthropic"]
    assert slugs("Elevated errors for Opus 5") == ["anthropic"]
    assert slugs("Copilot, Bing and DuckDuckGo down") == []  # Microsoft's Copilot
    assert slugs("Incident with Actions", "https://www.githubstatus.com/incidents/x") == [
        "github"]
    assert slugs("ChatGPT, Claude and GitHub all down") == ["anthropic", "github"]
    weak = match_providers("Is it down?", ["https://github.com/x/y"], "", CONFIG.providers)
    assert [(m.provider, m.strong) for m in weak] == [("github", False)]
    assert slugs("GitHub's outage", "https://github.com/x") == ["github"]


def test_one_link_per_provider_named() -> None:
    s = signal("Claude and GitHub are both down", T0 + timedelta(minutes=2))
    got = links([s], [incident("a", T0, 60),
                      incident("c", T0, 60, "Elevated errors", provider="anthropic")])
    assert sorted(got[s.id]) == ["anthropic/c", "github/a"]


# --------------------------------------------------------------------------- unofficial


def test_independent_reports_without_an_official_incident_become_a_candidate() -> None:
    at = datetime(2025, 12, 5, 8, 50, tzinfo=UTC)
    reports = [signal("Cloudflare is down", at, author="a", sid="1"),
               signal("Is Cloudflare down again?", at + timedelta(minutes=9), author="b",
                      sid="2"),
               signal("Cloudflare outage takes sites offline", at + timedelta(hours=1),
                      source="news", site="The Register", kind="news", sid="3")]
    _, found = link_all(reports, [], CONFIG)
    (candidate,) = found
    assert candidate.provider == "cloudflare" and candidate.key.endswith("20251205T0850")
    assert candidate.signal_ids == ("hackernews:1", "hackernews:2", "news:3")
    assert set(candidate.source_families) == {"hackernews", "news"}


def test_one_author_twice_or_an_official_incident_nearby_is_no_candidate() -> None:
    at = datetime(2025, 12, 5, 8, 50, tzinfo=UTC)
    same = [signal("Cloudflare is down", at, author="a", sid="1"),
            signal("Cloudflare still down", at + timedelta(minutes=9), author="a", sid="2")]
    assert link_all(same, [], CONFIG)[1] == []
    two = [signal("Cloudflare is down", at, author="a", sid="1"),
           signal("Is Cloudflare down?", at + timedelta(minutes=9), author="b", sid="2")]
    official = incident("cf", at + timedelta(hours=4), 30, provider="cloudflare",
                        title="Dashboard errors")
    assert link_all(two, [official], CONFIG)[1] == []
    elsewhere = [*two, signal("Cloudflare 5xx errors", at + timedelta(minutes=20), author="c",
                              sid="3", url="https://www.cloudflarestatus.com/incidents/zz")]
    assert link_all(elsewhere, [], CONFIG)[1] == []
