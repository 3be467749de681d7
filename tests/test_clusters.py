"""Clusters: cross-provider incidents that overlap in time and share evidence, and the same
outage posted on two pages of one vendor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.analysis.causes import Cause, CauseTag
from kb.analysis.clusters import dependency_terms, find_clusters, title_similarity, vendor_of
from kb.analysis.metrics import incident_figures
from kb.model import Incident, Kind, Lifecycle, Phase, Severity, Update

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "analysis"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make(provider: str, native_id: str, title: str, text: str, first: float,
         resolved: float) -> Incident:
    return Incident(provider, native_id, title, Kind.INCIDENT, "resolved", Severity.MAJOR,
                    "major", lifecycle=Lifecycle(first_post_at=t(first), resolved_at=t(resolved)),
                    updates=(Update(t(first), Phase.INVESTIGATING, "investigating", text, text),
                             Update(t(resolved), Phase.RESOLVED, "resolved", "Resolved.",
                                    "Resolved.")))


def run(incidents: list[Incident], causes: dict[str, list[CauseTag]] | None = None,
        **kwargs):  # type: ignore[no-untyped-def]
    figures = {i.key: incident_figures(i) for i in incidents}
    return find_clusters(incidents, figures, causes or {}, **kwargs)


def test_terms_vendors_and_similarity() -> None:
    text = "Elevated errors in US-EAST-1 after an Amazon Web Services outage; East US 2 fine."
    assert dependency_terms(text) == {"us-east-1", "aws", "east us 2"}
    assert dependency_terms("we cut some slack") == set()  # vendor names are proper nouns
    assert vendor_of("atlassian-jira", "https://jira-software.status.atlassian.com") == \
        vendor_of("atlassian-confluence", "https://confluence.status.atlassian.com")
    assert vendor_of("github", "https://www.githubstatus.com") == "github"
    assert vendor_of("acme-eu", None) == "acme"
    assert title_similarity("Degraded Jira search", "Jira search degraded") == 1.0
    assert title_similarity("Elevated errors", "Elevated errors") == 0.0  # generic words only


def test_cloud_outage_followed_by_saas_outages_is_one_cluster() -> None:
    cloud = make("aws", "1", "Increased error rates", "Errors in us-east-1 for EC2.", 0, 180)
    saas = make("acme", "2", "Service degraded", "Our hosts in us-east-1 are impaired.", 20, 120)
    late = make("zeta", "3", "API errors", "Degradation in us-east-1 continues.", 200, 260)
    apart = make("other", "4", "Login issues", "Unrelated.", 30, 60)  # overlaps, no evidence
    clusters = run([cloud, saas, late, apart], slack=timedelta(minutes=30))
    (cluster,) = clusters
    assert cluster.kind == "related"
    assert [m.key for m in cluster.members] == ["aws/1", "acme/2", "zeta/3"]
    link = next(x for x in cluster.links if {x.a, x.b} == {"aws/1", "acme/2"})
    assert link.shared_terms == ("us-east-1",) and link.overlap_minutes == 100
    gap = next(x for x in cluster.links if {x.a, x.b} == {"aws/1", "zeta/3"})
    assert gap.overlap_minutes == -20  # 20 minutes apart, within the slack
    assert run([cloud, late], slack=timedelta(minutes=10)) == []  # beyond the slack


def test_naming_the_other_provider_and_own_name_are_told_apart() -> None:
    github = make("github", "g", "Incident with Git Operations", "GitHub git ops down.", 0, 60)
    openai = make("openai", "o", "Elevated errors for Github connector",
                  "The GitHub connector fails.", 10, 50)
    aliases = {"github": {"github"}, "openai": {"openai"}}
    (cluster,) = run([github, openai], aliases=aliases)
    (link,) = cluster.links
    assert link.names_other == ("github",) and link.shared_terms == ()
    # GitHub's own name in its own incident is not a shared dependency term
    plain = make("acme", "a", "Outage", "Our database failed.", 0, 30)
    assert run([github, plain], aliases=aliases) == []


def test_shared_causes_link_but_unknown_does_not() -> None:
    a = make("a", "1", "Trouble", "x", 0, 60)
    b = make("b", "2", "Trouble", "y", 30, 90)
    dns = CauseTag(Cause.DNS, "rule", "DNS", "dns.word")
    unknown = CauseTag(Cause.UNKNOWN, "none", "", "no rule matched")
    (cluster,) = run([a, b], {"a/1": [dns], "b/2": [dns]})
    assert cluster.links[0].shared_causes == ("dns",)
    assert run([a, b], {"a/1": [unknown], "b/2": [unknown]}) == []


def test_same_vendor_pages_posting_one_outage_are_duplicates() -> None:
    jira = make("atlassian-jira", "j", "Degraded search performance",
                "Search is slow for some customers.", 0, 90)
    confluence = make("atlassian-confluence", "c", "Degraded search performance",
                      "Search is slow.", 5, 80)
    different = make("atlassian-bitbucket", "b", "Pipelines delayed", "Builds queue.", 10, 40)
    vendors = {"atlassian-jira": "atlassian", "atlassian-confluence": "atlassian",
               "atlassian-bitbucket": "atlassian"}
    (cluster,) = run([jira, confluence, different], vendors=vendors)
    assert cluster.kind == "duplicate" and cluster.providers == ("atlassian-confluence",
                                                                 "atlassian-jira")
    assert cluster.links[0].similarity == 1.0


def test_open_and_since_filters() -> None:
    a = make("a", "1", "x", "Errors in eu-west-1.", 0, 60)
    b = make("b", "2", "y", "eu-west-1 impaired.", 30, 90)
    assert run([a, b], since=t(200)) == []
    (kept,) = run([a, b], since=t(80))  # b reaches into the window: the whole cluster
    assert [m.key for m in kept.members] == ["a/1", "b/2"]
    assert run([a, b], until=t(-10)) == []


def test_cli_clusters_json(tmp_path: Path) -> None:
    env = dict(os.environ, KB_HOME=str(tmp_path), KB_SOURCES=str(ROOT / "data" / "sources.toml"))
    env.pop("KB_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "kb", "ingest", str(FIX / "github")], env=env,
                   check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "kb", "clusters", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []  # one provider only: nothing to cluster
