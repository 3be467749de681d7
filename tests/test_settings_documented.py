"""Every environment variable kb reads is in kb.config.ENVIRONMENT, read through env_value,
and in the README's settings table, and the table names nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.config import ENVIRONMENT, env_value, load_settings
from kb.errors import ConfigError
from tests.conftest import invoke_kb

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


@pytest.mark.parametrize("name, junk", [
    ("KB_LOCK_TIMEOUT", "soon"), ("KB_LOCK_TIMEOUT", "-5"), ("KB_SITE_DRAFT_DAYS", "7.5"),
    ("KB_SITE_DRAFT_DAYS", "ninety"), ("KB_LLM_TIMEOUT", "0"), ("KB_LLM_TIMEOUT", "nan"),
    ("KB_LLM_RETRIES", "1.5"), ("KB_LLM_RETRIES", "-1"), ("KB_EMBED_BACKEND", "gpu"),
])
def test_junk_in_a_numeric_or_enum_variable_is_one_line_naming_it(
        tmp_path: Path, name: str, junk: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"KB_HOME": str(tmp_path), name: junk})
    message = str(raised.value)
    assert message.startswith(name) and repr(junk) in message and "\n" not in message


def test_settings_are_typed_once_for_every_feature(tmp_path: Path) -> None:
    settings = load_settings({"KB_HOME": str(tmp_path), "KB_LLM_URL": "http://h:8000/v1",
                              "KB_LLM_RETRIES": "3", "KB_EMBED_BACKEND": "torch",
                              "KB_MODEL_CACHE": str(tmp_path / "m"), "KB_SITE_DIR": "out",
                              "KB_HN_API": "http://127.0.0.1:9/api"})
    assert settings.llm.endpoints == ("http://h:8000/v1/chat/completions",)
    assert (settings.llm.retries, settings.llm.timeout) == (3, 60.0)
    assert (settings.embed.backend, settings.embed.cache) == ("torch", tmp_path / "m")
    assert settings.site_dir == Path("out")
    assert settings.signals.hn_api == "http://127.0.0.1:9/api"


def test_junk_setting_through_the_cli_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = invoke_kb(tmp_path, "stats", KB_LLM_RETRIES="many")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kb: KB_LLM_RETRIES must be a whole number of at least 0, not 'many'"]


@pytest.mark.parametrize("line, message", [
    ("retries = 1.5", "[fetch] retries must be a whole number of at least 0, not 1.5"),
    ('read_timeout = "soon"', "[fetch] read_timeout must be a number of at least 0, not 'soon'"),
    ("max_bytes = true", "[fetch] max_bytes must be a whole number of at least 0, not True"),
    ("user_agent = 3", "[fetch] user_agent must be a string, not 3"),
    ("colour = 1", "unknown [fetch] settings: colour"),
])
def test_junk_in_the_fetch_table_is_one_line_naming_the_key(
        tmp_path: Path, line: str, message: str) -> None:
    from kb.commands.common import fetch_settings

    (tmp_path / "kb.toml").write_text(f"[fetch]\n{line}\npoliteness_delay = 0.5\n")
    settings = load_settings({"KB_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=re.escape(message)):
        fetch_settings(settings)
    (tmp_path / "kb.toml").write_text("[fetch]\nretries = 0\nread_timeout = 5\n")
    fetched = fetch_settings(load_settings({"KB_HOME": str(tmp_path)}))
    assert (fetched.retries, fetched.read_timeout) == (0, 5)


def test_junk_in_a_signals_number_names_its_key(tmp_path: Path) -> None:
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.signals.config import load_signal_config

    sources = load_sources(PACKAGED_SOURCES)
    with pytest.raises(ConfigError, match=r"\[signals\]\.thread_min_comments must be a whole "
                                          r"number of at least 0, not 'five'"):
        load_signal_config(tmp_path / "sources.toml", sources, {},
                           table={"thread_min_comments": "five"})
    config = load_signal_config(tmp_path / "sources.toml", sources, {},
                                table={"article_max_bytes": 1000})
    assert (config.article_max_bytes, config.thread_min_comments) == (1000, 5)
