"""bot.config: the environment is read in one module, every variable it reads is documented in
the README, and values are typed with their defaults."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ROOT, Settings

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Variables that are documented in the README's tables: `| `NAME` |` or `| `A`, `B` |`.
DOCUMENTED = set(
    re.findall(
        r"`([A-Z][A-Z0-9_]+)`",
        "\n".join(line for line in README.splitlines() if line.startswith("|")),
    )
)
ENV_READ = re.compile(r"os\.environ|os\.getenv|getenv\(")


def python_files():
    for folder in ("bot", "actions"):
        yield from (ROOT / folder).rglob("*.py")


def test_only_the_config_module_reads_the_environment():
    readers = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if not ENV_READ.search(text) or relative == "bot/config.py":
            continue
        if relative == "bot/ops/bench.py":  # the benchmark keeps its own BENCH_* variables
            names = set(re.findall(r'os\.environ(?:\.get)?\(?\[?"([A-Z0-9_]+)"', text))
            assert names and all(n.startswith("BENCH_") for n in names), names
            continue
        readers.append(relative)
    assert readers == []


def test_every_setting_is_in_the_readme():
    names = {field.field_info.extra["env"] for field in Settings.__fields__.values()}
    assert names - DOCUMENTED == set()


def test_every_variable_of_the_rasa_files_is_in_the_readme():
    files = [
        ROOT / "endpoints.yml",
        ROOT / "credentials.yml",
        ROOT / "credentials.channels.yml",
        *sorted((ROOT / "deploy").glob("*.yml")),
    ]
    used = set()
    for path in files:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        values = "\n".join(line.split("#", 1)[0] for line in lines)  # not the comments
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)\}", values))
    assert used and used - DOCUMENTED == set()


def test_values_are_typed_and_defaults_derived(monkeypatch, tmp_path):
    settings = Settings(var_dir=tmp_path, rasa_port=6000, action_port=6001)
    assert settings.database_url == f"sqlite:///{tmp_path / 'trials.db'}"
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert settings.rasa_url == "http://127.0.0.1:6000"
    assert settings.action_endpoint_url == "http://127.0.0.1:6001/webhook"
    monkeypatch.setenv("WEB_PORT", "8123")
    monkeypatch.setenv("STAFF_COOKIE_SECURE", "1")
    read = Settings()
    assert read.web_port == 8123 and read.staff_cookie_secure is True


def test_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "lots")
    with pytest.raises(ValidationError, match="max_message_chars"):
        Settings()
