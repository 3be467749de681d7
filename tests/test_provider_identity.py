"""A file never picks its own provider (issue #15 item 8) and an unknown host is named after
its most specific labels (issue #14, "Provider identity from a host"). Through the real CLI.

Payloads are the recorded GitHub incident (tests/fixtures/statuspage/github_zzm4nczlpjyy.json)
with its page URL, id, title or `_meta` changed as an attacker or another vendor would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import guess_slug
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "statuspage" / "github_zzm4nczlpjyy.json"




def payload(path: Path, *, page_url: str, title: str | None = None, native_id: str | None = None,
            meta_provider: str | None = None) -> Path:
    data = json.loads(REAL.read_text(encoding="utf-8"))
    data["page"]["url"] = page_url
    if title is not None:
        data["incident"]["name"] = title
    if native_id is not None:
        data["incident"]["id"] = native_id
    if meta_provider is not None:
        data["_meta"] = {"provider": meta_provider}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def titles(home: Path) -> dict[str, str]:
    result = kb(home, "export")
    assert result.returncode == 0, result.stderr
    return {row["key"]: row["title"] for row in map(json.loads, result.stdout.splitlines())}


def said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())


@pytest.mark.parametrize("forgery", [
    {"page_url": "https://attacker.example", "meta_provider": "github"},
    {"page_url": "https://www.githubstatus.net"},  # look-alike host, no claim
    {"page_url": "https://www.githubstatus.com", "meta_provider": "anthropic"},
])
def test_a_payload_cannot_overwrite_another_providers_incident(tmp_path: Path,
                                                                forgery: dict[str, str]) -> None:
    home = tmp_path / "home"
    assert kb(home, "ingest", str(REAL)).returncode == 0
    before = titles(home)
    assert before == {"github/zzm4nczlpjyy": "Incident on 2019-03-25 09:53 UTC"}
    forged = payload(tmp_path / "forged.json", title="FORGED", **forgery)
    result = kb(home, "ingest", str(forged))
    assert result.returncode == 5, result.stderr
    assert "pass --provider SLUG" in said(result)
    assert titles(home) == before  # nothing stored, nothing counted as an edit
    assert "FORGED" not in kb(home, "show", "github/zzm4nczlpjyy").stdout


def test_a_slug_is_letters_digits_and_dashes_wherever_it_enters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = kb(home, "ingest", str(REAL), "--provider", "../../x")
    assert result.returncode == 2
    assert "provider slug '../../x' must be lower-case letters" in said(result)
    assert "Traceback" not in result.stderr
    claimed = payload(tmp_path / "claim.json", page_url="https://status.example.org",
                      meta_provider="../../x")
    result = kb(home, "ingest", str(claimed))
    assert result.returncode == 5
    assert "payload names provider '../../x', not a valid slug" in said(result)
    assert not (tmp_path / "x").exists() and titles(home) == {}
    config = tmp_path / "sources.toml"
    config.write_text('[[source]]\nslug = "../x"\nname = "X"\nurl = "https://status.x.com"\n')
    result = subprocess.run([sys.executable, "-m", "kb", "ingest", str(REAL)],
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(config)))
    assert result.returncode == 2 and "slug must be lower-case letters" in said(result)


def test_product_pages_of_one_company_stay_apart_and_the_guess_is_said(tmp_path: Path) -> None:
    home = tmp_path / "home"
    api = payload(tmp_path / "api.json", page_url="https://api.status.acme.com",
                  native_id="apiinc1")
    web = payload(tmp_path / "web.json", page_url="https://status.acme.com", native_id="webinc1")
    result = kb(home, "ingest", str(api), str(web))
    assert result.returncode == 0, result.stderr
    assert set(titles(home)) == {"acme-api/apiinc1", "acme/webinc1"}
    text = said(result)
    assert "provider slug 'acme-api' guessed from host api.status.acme.com" in text
    assert "provider slug 'acme' guessed from host status.acme.com" in text
    assert "sources.toml" in text
    # Another host whose guess is the same slug is refused, not mixed into "acme".
    other = payload(tmp_path / "other.json", page_url="https://acmestatus.com",
                    native_id="otherinc")
    result = kb(home, "ingest", str(other))
    assert result.returncode == 5
    assert "('acme') is already stored from status.acme.com" in said(result)
    assert set(titles(home)) == {"acme-api/apiinc1", "acme/webinc1"}


def test_a_host_already_stored_keeps_its_slug(tmp_path: Path) -> None:
    """A KB that holds a host under another slug (set with --provider, or guessed by an older
    version) keeps adding that host's incidents there instead of splitting the provider."""
    home = tmp_path / "home"
    first = payload(tmp_path / "first.json", page_url="https://api.status.acme.com",
                    native_id="first")
    assert kb(home, "ingest", str(first), "--provider", "acme").returncode == 0
    later = payload(tmp_path / "later.json", page_url="https://api.status.acme.com",
                    native_id="later")
    result = kb(home, "ingest", str(later))
    assert result.returncode == 0, result.stderr
    assert set(titles(home)) == {"acme/first", "acme/later"}
    assert "guessed" not in result.stderr


@pytest.mark.parametrize(("host", "slug"), [
    # real status page hosts (kb/data/sources.toml, ../shared/corpus payloads' page URLs)
    ("www.githubstatus.com", "github"),
    ("www.cloudflarestatus.com", "cloudflare"),
    ("ocistatus.oraclecloud.com", "oraclecloud-oci"),
    ("status.claude.com", "claude"),
    ("status.us-west-1.saucelabs.com", "saucelabs-us-west-1"),
    ("wss.status.symantec.com", "symantec-wss"),
    ("jira-software.status.atlassian.com", "atlassian-jira-software"),
    ("confluence.status.atlassian.com", "atlassian-confluence"),
    ("status.cloud.google.com", "google-cloud"),
    ("discordstatus.com", "discord"),
    ("slack-status.com", "slack"),
    ("azure.status.microsoft", "azure"),
    # the shapes issue #14 names
    ("status.acme.com", "acme"),
    ("api.status.acme.com", "acme-api"),
    ("acmestatus.com", "acme"),
    ("acme.statuspage.io", "acme"),
    ("status.acme.co.uk", "acme"),
    ("127.0.0.1:8080", None),
    ("[::1]", None),
])
def test_guess_slug_names_the_most_specific_labels(host: str, slug: str | None) -> None:
    assert guess_slug(host) == slug
