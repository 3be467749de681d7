"""Every environment variable kb reads is in kb.config.ENVIRONMENT, read through env_value,
and in the README's settings table, and the table names nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.config import ENVIRONMENT, env_value

ROOT = Path(__file__).resolve().parents[1]


def _readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Settings", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"`(KB_[A-Z0-9_]+)`", section))


def test_readme_table_and_environment_list_name_the_same_variables() -> None:
    listed = set(ENVIRONMENT)
    documented = _readme_settings()
    assert listed - documented == set(), "listed in kb.config.ENVIRONMENT, not in the README"
    assert documented - listed == set(), "in the README, not in kb.config.ENVIRONMENT"


def test_no_module_reads_the_environment_around_env_value() -> None:
    # os.environ.get("KB_...") / env.get("KB_...") / os.getenv("KB_...") outside kb/config.py
    read = re.compile(r"""(?:environ|env)(?:\.get\(|\[)\s*["']KB_|getenv\(\s*["']KB_""")
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for folder in ("kb", "scrapers") for path in sorted((ROOT / folder).rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if read.search(line)]
    assert offenders == []


def test_env_value_treats_empty_as_unset_and_refuses_unlisted_names() -> None:
    assert env_value("KB_HOME", {"KB_HOME": ""}) is None
    assert env_value("KB_HOME", {"KB_HOME": "/srv/kb"}) == "/srv/kb"
    with pytest.raises(KeyError, match="KB_HOMEDIR"):
        env_value("KB_HOMEDIR", {})
