"""Golden drafts of real incidents, compared exactly (syrupy snapshots in tests/__snapshots__).

The four incidents are real payload slices (tests/fixtures/drafts/ORIGIN.md). The snapshots
were checked by hand once, against the payloads, before being frozen:

* every quotation was compared with the update text in the fixture payload it cites;
* every minute figure was recomputed by hand from the displayed times, e.g.
  github/k5z4d1v1tqmt: impact 06:00→19:12 = 792 min; first post 16:00 = 600 min after the
  start; resolved 19:32 = 212 min after the first post and 20 min after the end; median gap
  of the gaps 1, 34, 66, 61, 24, 26, 0 = 26 min; longest silence 16:35→17:41 = 66 min.
  github/zjchv3zvfg50: window 20:36→00:06 = 210 min; first post 20:57 = 21 min after;
  resolved 04:28 = 451 min after the first post, 262 after the end; Issues not operational
  21:10→04:02 = 412 min, API Requests 21:48→23:00 = 72 min, Git Operations 22:23→22:59 =
  36 min (component status changes in the incident JSON); median of its 19 gaps 24 min,
  longest 00:44→01:53 = 69 min. anthropic/4xvtc2gnq73l: window
  14:00→14:59 = 59 min; first post 14:21 = 21 min after; resolved 16:27 = 126 min after the
  first post, 88 after the end; median of 7, 2, 11, 19, 11, 19, 57 = 11 min.
  github/tpykx175y6jt: 00:23→00:58 = 35 min, for the lifecycle and the Actions component;
* "Not disclosed" slots were checked against the payloads: e.g. zjchv3zvfg50 states a
  trigger ("While rolling out an update to Projects ...") but no cause, and promises an RCA;
* every footnote's sha256 was compared with `sha256sum tests/fixtures/drafts/*`.

The optional sections of other features (signals, similar incidents, metrics) are switched
off here (`extras={}`), so these goldens pin the drafting itself; tests/test_drafts.py covers
the adapters. A change to drafting shows up here as a diff to review, then
`pytest --snapshot-update`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from kb.drafts import build_draft, render_draft
from kb.store import Store
from tests.conftest import ingested_store

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "drafts"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = ingested_store(tmp_path_factory.mktemp("golden"), [FIX])
    yield store
    store.close()


@pytest.mark.parametrize("template", ["sre", "atlassian", "pagerduty"])
@pytest.mark.parametrize(
    "key", ["github/zjchv3zvfg50", "github/k5z4d1v1tqmt", "github/tpykx175y6jt",
            "anthropic/4xvtc2gnq73l"],
)
def test_markdown_draft(store: Store, key: str, template: str,
                        snapshot: SnapshotAssertion) -> None:
    assert render_draft(build_draft(store, key, extras={}), template, "md") == snapshot


def test_html_draft(store: Store, snapshot: SnapshotAssertion) -> None:
    draft = build_draft(store, "github/tpykx175y6jt", extras={})
    assert render_draft(draft, "sre", "html") == snapshot


def test_json_draft(store: Store, snapshot: SnapshotAssertion) -> None:
    draft = build_draft(store, "github/k5z4d1v1tqmt", extras={})
    data = json.loads(render_draft(draft, "sre", "json"))
    assert data == snapshot


def test_fixture_hashes_match_the_footnotes(store: Store) -> None:
    """The sha256 in the footnotes is the hash of the fixture bytes on disk."""
    import hashlib

    on_disk = {hashlib.sha256(p.read_bytes()).hexdigest() for p in FIX.iterdir()
               if p.suffix in (".json", ".atom") and not p.name.endswith(".headers.json")}
    for key in ("github/zjchv3zvfg50", "anthropic/4xvtc2gnq73l"):
        draft = build_draft(store, key, extras={})
        cited = {p.sha256 for c in draft.citations for p in c.payloads}
        assert cited and cited <= on_disk
