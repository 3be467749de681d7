"""Issue 18, "Feedback while it works": piped (cron, CI, `| tee`) a `kb update` used to print
nothing until its summary, and on a terminal the bar sat on the last file name while the later
stages ran. Every stage now says when it starts, and counts, on stderr when it is a pipe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.commands import common
from tests.conftest import ROOT, run_kb


def test_a_piped_update_names_each_stage_as_it_starts_and_counts_its_work(
        tmp_path: Path) -> None:
    result = run_kb(tmp_path / "home", "update", "--from", str(ROOT / "data" / "samples"),
                    KB_EMBED_MODEL="fake-hash")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    # the import counts its payloads; each later stage announces itself before its note
    assert any(re.fullmatch(r"kb: payloads: \d+ \(\d+\.\d/s, \d+ s\)", line) for line in lines)
    for stage in ("link", "embed", "analysis", "site"):
        start = lines.index(f"kb: {stage} …")
        note = next(i for i, line in enumerate(lines) if line.startswith(f"kb: {stage}: "))
        assert start < note, (stage, lines)
    # stages that count say done/total at their end (55 incidents in the sample)
    assert "kb: embed: 55/55" in result.stderr
    assert re.search(r"kb: analysis: 55/55 \(", result.stderr)


def test_a_long_stage_prints_a_line_every_few_seconds_and_nothing_in_between(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    said: list[str] = []
    monkeypatch.setattr(common.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(common.err, "print", lambda text, **_kw: said.append(text))

    class Silent:  # rich's Progress stand-in: a pipe shows no bar
        def add_task(self, *_a: object, **_kw: object) -> int:
            return 0

        def update(self, *_a: object, **_kw: object) -> None:
            return None

        def advance(self, *_a: object, **_kw: object) -> None:
            return None

    bar = common.Bar(Silent(), "payloads", piped=True)
    bar.begin("embed")
    bar.start(1000)
    for _ in range(10):  # 10 batches of 100, one second apart
        clock[0] += 1.0
        bar.advance(100)
    bar.finish()
    assert said == [
        "kb: embed …",
        "kb: embed: 500/1000 (100.0/s, 5 s)",
        "kb: embed: 1000/1000 (100.0/s, 10 s)",
        "kb: embed: 1000/1000 (100.0/s, 10 s)",
    ]


def test_a_stage_name_from_elsewhere_is_printed_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(common.err, "print", lambda text, **_kw: said.append(text))

    class Silent:
        def add_task(self, *_a: object, **_kw: object) -> int:
            return 0

        def update(self, *_a: object, **_kw: object) -> None:
            return None

    common.Bar(Silent(), "payloads", piped=True).begin("site\x1b[2J")
    assert said == ["kb: site\\u001b[2J …"]  # escaped by kb.terminal, no raw ESC
