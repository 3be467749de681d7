"""`kb search --cause` and `kb similar --cause` as users run them: the tag is checked against
the Cause enum, the filter keeps exactly the incidents whose stored tags name it, and a KB
whose incidents carry no (current) tags says so instead of answering "nothing"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.analysis.causes import Cause
from kb.commands.search import cause_notes, cause_tag
from kb.errors import ConfigError
from kb.store import Store
from kb.store.analysis import stored_causes
from tests.test_search import INCIDENTS, ROOT, kb
from tests.test_search_backends import tag
from tests.test_search_support import open_store, write

FIXTURES = ROOT / "tests" / "fixtures" / "search" / "github"


def test_cause_tags_are_checked() -> None:
    assert cause_tag(None) is None
    assert cause_tag(" DNS ") == "dns"
    assert cause_tag("config-deploy") == "config-deploy"
    with pytest.raises(ConfigError) as caught:
        cause_tag("dns-ish")
    message = str(caught.value)
    assert message.startswith("unknown --cause 'dns-ish'; valid: auth, dns, tls, ")
    assert all(c.value in message for c in Cause)


def test_notes_say_how_much_the_filter_sees(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    assert cause_notes(store, None) == []
    assert cause_notes(store, "dns") == [
        "no incident carries cause tags yet: --cause matches nothing (run `kb causes "
        "--refresh` or `kb update`)"]
    tag(store, {"github/ddos": ["security"], "github/wh1": ["unknown"]})
    assert cause_notes(store, "dns") == [
        f"{len(INCIDENTS) - 2} of {len(INCIDENTS)} incident(s) have no current cause tags: "
        "--cause does not see them (run `kb causes --refresh`)"]
    tag(store, {i.key: ["unknown"] for i in INCIDENTS})
    assert cause_notes(store, "dns") == []


def test_cli_cause_filter(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert kb(home, "ingest", str(FIXTURES)).returncode == 0

    unknown = kb(home, "search", "ddos", "--cause", "Nope")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "unknown --cause 'Nope'; valid: auth, dns" in unknown.stderr

    untagged = kb(home, "search", "ddos attack", "--cause", "security", "--mode", "keyword",
                  "--json")
    assert untagged.returncode == 0, untagged.stderr
    data = json.loads(untagged.stdout)
    assert data["results"] == []
    assert any(n.startswith("no incident carries cause tags yet") for n in data["notes"])

    refreshed = kb(home, "causes", "--refresh", "--no-embedding")
    assert refreshed.returncode == 0, refreshed.stderr
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}")
    secure = {key for key, tags in stored_causes(store).items()
              if any(t.tag == "security" and t.stated_as == "cause" for t in tags)}
    store.close()
    assert secure  # the fixtures hold three DDoS incidents

    tagged = kb(home, "search", "ddos attack outage", "--cause", "SECURITY", "--mode",
                "keyword", "--json")
    data = json.loads(tagged.stdout)
    assert {r["key"] for r in data["results"]} == secure
    assert not any("cause tags" in n for n in data["notes"])

    alike = kb(home, "similar", "github/4trmvxgwj8f8", "--cause", "security", "--mode",
               "keyword", "--json")
    assert alike.returncode == 0, alike.stderr
    keys = {r["key"] for r in json.loads(alike.stdout)["results"]}
    assert keys and keys <= secure - {"github/4trmvxgwj8f8"}

    assert "--cause" in kb(home, "search", "--help").stdout
    assert "--cause" in kb(home, "similar", "--help").stdout
