"""A KB home is self-contained (issue 18, "The KB home"), walked through the real CLI:

- a fresh KB_HOME without a sources.toml names providers from the packaged list (Anthropic's
  JSON and its Atom feed are one provider, not `anthropic` and `claude`), and the run summary
  says which list is in use; a home's sources.toml extends it, or replaces it;
- each home's site lives in that home: a second home's `kb update` removes nothing of the
  first's;
- the published site never shows a path of this machine (imported files are named, with
  "imported");
- the run summary gives each stage's time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, Settings, load_settings, load_source_list
from kb.errors import ConfigError
from kb.signals.stage import config_for
from tests.conftest import run_kb

ROOT = Path(__file__).resolve().parents[1]
JSON = ROOT / "tests" / "fixtures" / "statuspage" / "anthropic_slice.json"  # status.anthropic.com
ATOM = ROOT / "tests" / "fixtures" / "feeds" / "claude_slice.atom"  # status.claude.com
OPENAI = ROOT / "tests" / "fixtures" / "statuspage" / "openai_slice.json"
PACKAGED_PAGES = len(load_source_list(load_settings({"KB_SOURCES": str(PACKAGED_SOURCES)}))
                     .sources)


def kb(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m kb ARGS` as a new user runs it: only KB_HOME set (no KB_SOURCES, no
    KB_SITE_DIR), output piped."""
    unset: dict[str, str | None] = dict.fromkeys(("KB_SOURCES", "KB_SITE_DIR", "KB_RAW_DIR"))
    return run_kb(home, *args, cwd=home.parent, KB_EMBED_MODEL="fake-hash", **(unset | extra))


def keys(home: Path) -> list[str]:
    result = kb(home, "incidents", "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    return [i["key"] for i in json.loads(result.stdout)]


def test_a_fresh_home_names_providers_from_the_packaged_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = kb(home, "ingest", str(JSON), str(ATOM))
    assert result.returncode == 0, result.stderr
    found = keys(home)
    assert {k.split("/")[0] for k in found} == {"anthropic"}  # not "claude" for the feed
    assert len(found) == len(set(k.split("/")[1] for k in found)) == 4  # nothing stored twice
    assert "guessed" not in result.stderr
    assert f"sources: packaged list ({PACKAGED_PAGES} pages)" in result.stdout
    assert PACKAGED_PAGES >= 26


def test_a_homes_sources_toml_extends_or_replaces_the_packaged_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    own = home / "sources.toml"
    # One page added, one packaged page overridden (kept for imports, not scraped).
    own.write_text(
        '[[source]]\nslug = "acme"\nname = "Acme"\nurl = "https://status.acme.com"\n\n'
        '[[source]]\nslug = "anthropic"\nname = "Anthropic"\n'
        'url = "https://status.claude.com"\n'
        'aliases = ["status.anthropic.com"]\nenabled = false\n', encoding="utf-8")
    result = kb(home, "ingest", str(JSON), str(ATOM))
    assert result.returncode == 0, result.stderr
    assert (f"sources: packaged list ({PACKAGED_PAGES} pages) + {own} (1 added, 1 overridden)"
            in result.stdout)
    assert {k.split("/")[0] for k in keys(home)} == {"anthropic"}
    # replace = true: the home's list alone; Anthropic's hosts are unknown again, and said so.
    other = tmp_path / "other"
    other.mkdir()
    (other / "sources.toml").write_text(
        'replace = true\n\n[[source]]\nslug = "acme"\nname = "Acme"\n'
        'url = "https://status.acme.com"\n', encoding="utf-8")
    result = kb(other, "ingest", str(ATOM))
    assert result.returncode == 0, result.stderr
    assert "only (1 page; replace = true, the packaged list is not used)" in result.stdout
    assert "provider slug 'claude' guessed from host status.claude.com" in result.stderr
    result = kb(other, "ingest", str(OPENAI), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sources_in_use"] == f"sources: {other / 'sources.toml'} only (1 page; " \
        "replace = true, the packaged list is not used)"
    assert list(report["stage_seconds"]) == ["import"] and report["stage_seconds"]["import"] > 0
    # A file named by KB_SOURCES must exist: one line, exit 2.
    result = kb(other, "ingest", str(JSON), KB_SOURCES=str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "missing.toml: sources file not found" in result.stderr
    assert "Traceback" not in result.stderr
    (other / "sources.toml").write_text('replace = "yes"\n', encoding="utf-8")
    result = kb(other, "ingest", str(JSON))
    assert result.returncode == 2 and "replace must be true or false" in result.stderr


def _settings(home: Path, sources: Path) -> Settings:
    return load_settings({"KB_HOME": str(home), "KB_SOURCES": str(sources)})


def test_signal_terms_merge_with_the_packaged_ones(tmp_path: Path) -> None:
    own = tmp_path / "sources.toml"
    own.write_text(
        '[[source]]\nslug = "acme"\nname = "Acme Cloud"\nurl = "https://status.acme.com"\n\n'
        '[signals]\nthread_min_comments = 9\n\n'
        '[signals.match.acme]\nnames = ["Acme"]\n\n'
        '[signals.match.github]\nnames = ["GH"]\n\n'
        '[[signals.feed]]\nname = "Acme news"\nurl = "https://news.acme.com/rss"\n'
        'provider = "acme"\n', encoding="utf-8")
    packaged = config_for(_settings(tmp_path, PACKAGED_SOURCES))
    # A fresh home (no sources.toml, no KB_SOURCES) knows every provider's names, so its
    # signals can link: it used to know none.
    fresh = config_for(load_settings({"KB_HOME": str(tmp_path / "fresh")}))
    assert fresh == packaged and "Claude" in fresh.terms("anthropic").names
    merged = config_for(_settings(tmp_path, own))
    assert merged.thread_min_comments == 9 and packaged.thread_min_comments == 5
    assert merged.terms("acme").names == ("Acme",)
    assert merged.terms("github").names == ("GH",)  # the home's table wins for that slug
    assert merged.terms("anthropic") == packaged.terms("anthropic")  # the rest as packaged
    assert [f.url for f in merged.feeds] == [f.url for f in packaged.feeds] + [
        "https://news.acme.com/rss"]
    # An unknown slug in a match table is still refused, naming the home's file.
    own.write_text('[signals.match.nobody]\nnames = ["X"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not a \\[\\[source\\]\\] slug: nobody"):
        config_for(_settings(tmp_path, own))


def test_two_homes_keep_their_own_sites_and_publish_no_local_path(tmp_path: Path) -> None:
    """Two homes updated one after the other from the same working directory: each site is
    under its home, the second removes nothing of the first, no built file names a path of
    this machine, and the summary gives each stage's time."""
    first, second = tmp_path / "first", tmp_path / "second"
    inbox_a, inbox_b = tmp_path / "in-a", tmp_path / "in-b"
    inbox_a.mkdir()
    inbox_b.mkdir()
    shutil.copy(JSON, inbox_a)
    shutil.copy(ATOM, inbox_a)
    shutil.copy(OPENAI, inbox_b)
    result = kb(first, "update", "--from", str(inbox_a))
    assert result.returncode == 0, result.stderr
    site_a = first / "build" / "site"
    pages_a = sorted(p.relative_to(site_a) for p in site_a.rglob("*") if p.is_file())
    assert Path("incidents/anthropic/6304r9jjhj34/index.html") in pages_a
    time_lines = [line for line in result.stdout.splitlines() if line.startswith("time: ")]
    assert len(time_lines) == 1, result.stdout  # one line, not wrapped, when piped
    for stage in ("import", "link", "embed", "analysis", "site", "total"):
        assert f" {stage} " in time_lines[0] and " s" in time_lines[0], time_lines[0]

    result = kb(second, "update", "--from", str(inbox_b))
    assert result.returncode == 0, result.stderr
    assert " 0 removed" in result.stderr, result.stderr
    assert str(second / "build" / "site") in result.stderr  # the note says where
    assert (second / "build" / "site" / "incidents" / "openai").is_dir()
    assert not (second / "build" / "site" / "incidents" / "anthropic").exists()
    assert sorted(p.relative_to(site_a) for p in site_a.rglob("*") if p.is_file()) == pages_a
    assert not (tmp_path / "build").exists()  # nothing in the working directory

    # The Sources section names the imported file, never where it was on this machine.
    page = (site_a / "incidents" / "anthropic" / "6304r9jjhj34" / "index.html").read_text(
        encoding="utf-8")
    assert "anthropic_slice.json (imported)" in page and "claude_slice.atom (imported)" in page
    machine = {str(tmp_path), str(ROOT), str(Path.home()), "file:///"}
    for built in (first / "build").rglob("*"):
        if built.is_file():
            text = built.read_bytes().decode("utf-8", "replace")
            leaks = sorted(m for m in machine if m in text)
            assert not leaks, f"{built.relative_to(first)} shows {leaks}"
