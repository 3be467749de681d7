"""kb.store.keyword.rare_holders: the holders of a rare term, None for a common one."""

from __future__ import annotations

from pathlib import Path

from kb.store import keyword
from tests.test_search_support import incident, open_store, write


def test_rare_holders_counts_before_it_fetches(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    write(store, *[incident(f"aws/e{i}", "Elevated errors", f"Errors in us-east-1 ({i}).")
                   for i in range(5)],
          incident("aws/w1", "Elevated errors", "Errors in us-west-2."))
    held = {f"aws/e{i}" for i in range(5)}
    assert set(keyword.rare_holders(store, "us-east-1", 5) or []) == held
    assert set(keyword.containing(store, "us-east-1", 6)) == held
    assert keyword.rare_holders(store, "us-east-1", 4) is None  # five holders: not rare
    assert keyword.rare_holders(store, "us-west-2", 4) == ["aws/w1"]
    assert keyword.rare_holders(store, "eu-central-1", 4) == []
    assert keyword.rare_holders(store, "--", 4) == []  # no word character: no query at all
