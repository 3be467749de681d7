"""The held-out figures of issue 14 for the prose readers of kb.normalize, recomputed by
bench/eval_normalize.py on the labelled rows (labelled by us, text inline: no corpus needed)
that the rules were never tuned on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "eval_normalize.py"
_spec = importlib.util.spec_from_file_location("eval_normalize", _SCRIPT)
assert _spec is not None and _spec.loader is not None
evaluation = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("eval_normalize", evaluation)  # dataclasses look their module up
_spec.loader.exec_module(evaluation)


def test_the_labelled_sets_are_what_docs_normalize_md_claims() -> None:
    phases, windows = evaluation.rows(evaluation.PHASES), evaluation.rows(evaluation.WINDOWS)
    assert len(phases) >= 150 and len(windows) >= 100
    assert {r["split"] for r in phases + windows} == {"tune", "heldout"}
    hashed = phases + [r for r in windows if r.get("batch", 1) < 4]
    held = [r for r in hashed if r["split"] == "heldout"]
    assert 0.3 <= len(held) / len(hashed) <= 0.5
    assert sum(r["label"] == "resolved" for r in phases if r["split"] == "heldout") >= 15
    assert sum(r["start"] is None for r in windows if r["split"] == "heldout") >= 20
    assert {r.get("batch", 1) for r in windows} == {1, 2, 3, 4}
    third = [r for r in windows if r.get("batch") == 3]
    assert len(third) >= 250 and sum(r["start"] is not None for r in third) >= 100
    # no batch-3 row repeats text an earlier row holds (batch 1 labelled runs of sentences)
    earlier = " ".join(" ".join(r["text"].split()) for r in windows if r.get("batch", 1) < 3)
    assert not any(" ".join(r["text"].split()) in earlier for r in third)
    assert len({r["key"] for r in windows}) == len(windows)
    # batches 1-3: the split is a function of the key alone (fixed before any rule saw the
    # rows); batch 4 is held out whole (decided before it was labelled)
    assert all((int(r["key"], 16) % 10 < 4) == (r["split"] == "heldout") for r in hashed)
    fourth = [r for r in windows if r.get("batch") == 4]
    assert len(fourth) >= 250 and sum(r["start"] is not None for r in fourth) >= 80
    assert all(r["split"] == "heldout" for r in fourth)
    # no batch-4 row repeats text an earlier row holds, whole or inside a longer one
    before = " ".join(" ".join(r["text"].split()) for r in windows if r.get("batch", 1) < 4)
    assert not any(" ".join(r["text"].split()) in before for r in fourth)


def test_inferred_resolved_precision_on_held_out_text() -> None:
    score = evaluation.score_phases(evaluation.rows(evaluation.PHASES, "heldout"))
    assert score.resolved_predicted > 0
    assert score.resolved_precision >= evaluation.TARGET_RESOLVED_PRECISION, score.errors


def test_impact_windows_on_held_out_text_do_not_regress() -> None:
    # Held out: batch 4, all of it (284 rows: GitHub, Anthropic and OpenAI status updates and
    # unused feed text; labelled and committed before the grammar changed; bench/data/
    # LABELS.md). 275/284 = 0.968 exact, both with this round's rules and with the rules
    # before them (computed twice, after then before: the round's changes did not move it).
    # Every window of the batch is GitHub's: 75 of 83 exact.
    held = evaluation.rows(evaluation.WINDOWS, "heldout", batch=4)
    score = evaluation.score_windows(held)
    assert (score.n, score.with_window) == (284, 83)
    assert score.exact_rate >= 0.96
    assert score.false_windows <= 2  # of 201 rows that state no window
    assert score.window_recall is not None and score.window_recall >= 0.89
    # Batches 1-3 are tuning data now (their old held-out parts included): floors against
    # regressions only, not quality claims. Their old held-out parts: 94/102, 81/83, 150/154.
    old = [evaluation.score_windows(evaluation.rows(evaluation.WINDOWS, "heldout", batch=b))
           for b in (1, 2, 3)]
    assert [x.n for x in old] == [102, 83, 154]
    assert all(x.exact_rate >= floor for x, floor in zip(old, (0.91, 0.97, 0.96), strict=True))
    tuning = evaluation.score_windows(evaluation.tuning_rows())
    assert tuning.exact_rate >= 0.97  # 861/885 = 0.973
    assert tuning.false_windows <= 11  # of 622 rows that state no window


def test_impact_windows_reach_the_target_on_held_out_text() -> None:
    score = evaluation.score_windows(evaluation.rows(evaluation.WINDOWS, "heldout", batch=4))
    assert score.exact_rate >= evaluation.TARGET_WINDOW_EXACT, score.errors
