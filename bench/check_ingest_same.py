"""Does this tree store exactly what another checkout stores? The check behind any ingest
speed-up (issue 19): results must not change.

Usage:
    git worktree add /tmp/kb-base <commit-before>
    python bench/check_ingest_same.py --base /tmp/kb-base [--corpus ../shared/corpus]
        [--only FOLDER ...] [--keep DIR]   # --keep: the base's KB there is reused next time

For each tree (the base checkout, then this one) it runs, in fresh processes with that tree
first on PYTHONPATH, `kb ingest CORPUS` into an empty SQLite KB, then `kb export` (JSONL and
CSV), and dumps every table row by row (sorted; the FTS5 index through its columns, not its
shadow tables; the columns that hold the clock at the run left out: see RUN_CLOCK). Then it
compares: the two exports must be byte-identical, and every table must hold the same rows.
Exit status 0 when all match, 1 with the first differences otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Columns holding when the run happened (datetime.now at the write), which differ between
# any two runs of the same code.
RUN_CLOCK = frozenset({"changed_at", "first_stored_at", "ingested_at", "seen_at",
                       "updated_at", "embedded_at"})


def run_tree(tree: Path, paths: list[Path], home: Path) -> dict[str, object]:
    """Ingest and export with `tree`'s code; the export files and the table dump."""
    if (home / "report.json").is_file():  # --keep's earlier run of this tree: reused
        return {"report": json.loads((home / "report.json").read_text()),
                "tables": dump(home / "kb.db"),
                **{fmt: (home / f"export.{fmt}").read_bytes() for fmt in ("jsonl", "csv")}}
    home.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(tree), KB_HOME=str(home),
               KB_DATABASE_URL=f"sqlite:///{home / 'kb.db'}", COLUMNS="200")
    for name in ("KB_CONFIG", "KB_SOURCES"):
        env.pop(name, None)
    kb = [sys.executable, "-m", "kb"]
    ingest = subprocess.run([*kb, "ingest", *map(str, paths), "--json"], env=env, cwd=tree,
                            capture_output=True, text=True)
    if ingest.returncode not in (0, 5):
        raise SystemExit(f"{tree}: kb ingest exited {ingest.returncode}: "
                         f"{ingest.stderr.strip()[-500:]}")
    report = json.loads(ingest.stdout)
    for fmt in ("jsonl", "csv"):
        subprocess.run([*kb, "export", "--format", fmt, "-o", str(home / f"export.{fmt}")],
                       env=env, cwd=tree, check=True, capture_output=True)
    (home / "report.json").write_text(json.dumps(report))
    return {"report": report, "tables": dump(home / "kb.db"),
            **{fmt: (home / f"export.{fmt}").read_bytes() for fmt in ("jsonl", "csv")}}


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, sorted, without RUN_CLOCK columns and FTS5 shadow tables."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table.startswith("incident_fts_") or table.startswith("sqlite_"):
                continue
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            if table == "incident_fts":
                columns = ["rowid", "title", "components", "body"]
            kept = [c for c in columns if c not in RUN_CLOCK and c != "id"]
            rows = db.execute(f'SELECT {", ".join(kept)} FROM "{table}"').fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--only", nargs="+", help="corpus folders (default: the whole corpus)")
    parser.add_argument("--keep", type=Path, help="keep both KBs under this folder")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus}: corpus not found")
    paths = [args.corpus / f for f in args.only] if args.only else [args.corpus]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        base = run_tree(args.base.resolve(), paths, work / "base")
        if (work / "this").exists():
            shutil.rmtree(work / "this")
        this = run_tree(ROOT, paths, work / "this")
    problems: list[str] = []
    for fmt in ("jsonl", "csv"):
        a, b = base[fmt], this[fmt]
        assert isinstance(a, bytes) and isinstance(b, bytes)
        same = a == b
        print(f"export {fmt}: {len(a):,} bytes, sha256 {hashlib.sha256(a).hexdigest()[:16]} "
              f"(base) vs {hashlib.sha256(b).hexdigest()[:16]}: "
              f"{'identical' if same else 'DIFFERENT'}")
        if not same:
            problems.append(f"export {fmt} differs")
    tables_a, tables_b = base["tables"], this["tables"]
    assert isinstance(tables_a, dict) and isinstance(tables_b, dict)
    # The schema revisions: a speed-up may come with a migration (i01 replaced the keyword
    # index's triggers); shown, not compared. Every table's rows are.
    print(f"schema revisions: {sorted(tables_a.pop('alembic_version', []))} (base), "
          f"{sorted(tables_b.pop('alembic_version', []))} (here)")
    for table in sorted(set(tables_a) | set(tables_b)):
        rows_a, rows_b = tables_a.get(table), tables_b.get(table)
        if rows_a != rows_b:
            only_a = set(rows_a or ()) - set(rows_b or ())
            only_b = set(rows_b or ()) - set(rows_a or ())
            problems.append(f"table {table}: {len(only_a)} row(s) only in base, {len(only_b)} "
                            f"only here; e.g. {sorted(only_a, key=repr)[:1]} / "
                            f"{sorted(only_b, key=repr)[:1]}"[:600])
    rows = sum(len(v) for v in tables_b.values())
    print(f"tables: {len(tables_b)} compared, {rows:,} rows here")
    for report_key in ("ignored",):
        if base["report"][report_key] != this["report"][report_key]:  # type: ignore[index]
            problems.append(f"ingest report {report_key!r} differs")
    if problems:
        print("DIFFERENT:\n" + "\n".join(f"- {p}" for p in problems))
        raise SystemExit(1)
    print("same: exports byte-identical, every table holds the same rows")


if __name__ == "__main__":
    main()
