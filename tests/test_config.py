"""Settings: TOML plus SALESYNC_* variables, validated with messages that say what to fix."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesync.config import ConfigError, load_settings
from salesync.engine.wiring import configured_engine
from salesync.store.database import Pool, make_engine, session_factory
from salesync.store.vault import new_key


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SALESYNC_DATABASE_URL", "SALESYNC_SECRET_KEYS", "SALESYNC_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESYNC_CONFIG", str(tmp_path / "salesync.toml"))


def test_defaults_are_the_embedded_sqlite_file(tmp_path: Path) -> None:
    """With nothing configured salesync uses a SQLite file in ./var."""
    assert load_settings().database == "sqlite:///var/salesync.db"


def test_environment_overrides_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SALESYNC_* variable wins over the same setting in the TOML file."""
    (tmp_path / "salesync.toml").write_text(
        'database_url = "sqlite:///from-toml.db"\nlog_level = "DEBUG"\n'
    )
    assert load_settings().database == "sqlite:///from-toml.db"
    monkeypatch.setenv("SALESYNC_DATABASE_URL", "postgresql://u@localhost/salesync")
    cfg = load_settings()
    assert cfg.database == "postgresql://u@localhost/salesync"
    assert cfg.log_level == "DEBUG"


def test_the_connection_pool_comes_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pool size, overflow and pre-ping are read like any setting; a pool of no
    connections is refused, naming the variable."""
    assert load_settings().pool() == Pool(size=5, max_overflow=10, pre_ping=True)
    (tmp_path / "salesync.toml").write_text("database_max_overflow = 0\n")
    monkeypatch.setenv("SALESYNC_DATABASE_POOL_SIZE", "12")
    monkeypatch.setenv("SALESYNC_DATABASE_POOL_PRE_PING", "false")
    assert load_settings().pool() == Pool(size=12, max_overflow=0, pre_ping=False)
    monkeypatch.setenv("SALESYNC_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="SALESYNC_DATABASE_POOL_SIZE"):
        load_settings()


def test_every_bad_setting_is_named_with_its_expected_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bad values and an unknown key are all reported, each saying what is expected."""
    (tmp_path / "salesync.toml").write_text('colour = "blue"\n')
    monkeypatch.setenv("SALESYNC_DATABASE_URL", "mysql://x/y")
    monkeypatch.setenv("SALESYNC_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    text = str(raised.value)
    assert "SALESYNC_DATABASE_URL" in text
    assert "postgresql://" in text
    assert "SALESYNC_LOG_LEVEL" in text
    assert "DEBUG, INFO, WARNING, ERROR" in text
    assert "`colour`" in text


def test_secret_keys_come_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several keys may be given, newest first, and seal and open credentials."""
    old, new = new_key(), new_key()
    monkeypatch.setenv("SALESYNC_SECRET_KEYS", f"{new}, {old}")
    vault = load_settings().vault()
    assert vault.open(vault.seal({"a": 1})) == {"a": 1}


def test_a_local_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    """Without configured keys, one is created in data_dir, owner-readable only, and reused."""
    cfg = load_settings(data_dir=tmp_path / "data")
    token = cfg.vault().seal({"x": "y"})
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings(data_dir=tmp_path / "data").vault().open(token) == {"x": "y"}


SUPPORT_TOML = """
public_url = "https://sync.example.com/"

[mail]
host = "smtp.example.com"
port = 587
sender = "support@example.com"
starttls = true

[support]
rules = ["provider:qbo kind:mapping -> tier1", "* -> dev"]

[support.teams.tier1]
mode = "round_robin"
ack_within = "15m"
members = [{ name = "ana", timezone = "America/New_York" }]

[support.teams.dev]
mode = "round_robin"
ack_within = "30m"
members = [{ name = "cy", timezone = "Europe/Berlin" }]

[github]
owner = "acme"
repo = "books-support"
token = "github_pat_example"
"""


def test_support_mail_and_trackers_come_from_their_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "salesync.toml").write_text(SUPPORT_TOML)
    monkeypatch.setenv("SALESYNC_MAIL__PORT", "2525")
    cfg = load_settings()
    assert cfg.public_url == "https://sync.example.com"
    mail = cfg.mail_settings()
    assert (mail.host, mail.port, mail.starttls) == ("smtp.example.com", 2525, True)
    # Links in e-mails start at public_url unless [mail] names its own address.
    assert mail.link("unsubscribe/x") == "https://sync.example.com/unsubscribe/x"
    assert sorted(cfg.support.teams) == ["dev", "tier1"]
    assert cfg.github is not None
    assert cfg.github.repo == "books-support"
    assert cfg.jira is None


def test_without_tables_support_has_defaults_and_mail_is_off() -> None:
    cfg = load_settings()
    assert cfg.mail is None
    assert cfg.mail_settings().public_url == "http://127.0.0.1:8000"
    assert "tier1" in cfg.support.teams


def test_a_bad_entry_in_a_table_is_named_by_its_path(tmp_path: Path) -> None:
    (tmp_path / "salesync.toml").write_text(
        '[mail]\nport = 0\nhots = "x"\n\n[support]\nrules = ["* -> nobody"]\n'
        '[support.teams.tier1]\nmode = "round_robin"\nack_within = "15m"\n'
        'members = [{ name = "ana", timezone = "UTC" }]\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "`mail.port`" in message
    assert "the SMTP server's port" in message
    assert "`mail.hots`" in message
    assert "is not a setting salesync knows" in message
    assert "no team 'nobody'" in message


def test_the_retry_waits_come_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first wait and the longest wait between tries of a posting are settings the
    engine's sender uses; the longest is never shorter than the first."""
    monkeypatch.setenv("SALESYNC_SECRET_KEYS", new_key())
    monkeypatch.setenv("SALESYNC_RETRY_BASE_SECONDS", "5")
    monkeypatch.setenv("SALESYNC_RETRY_MAX_SECONDS", "40")
    cfg = load_settings()
    factory = session_factory(make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    retry = configured_engine(cfg, factory, lambda: datetime.now(UTC)).sender.retry
    assert (retry.base, retry.cap) == (timedelta(seconds=5), timedelta(seconds=40))
    monkeypatch.setenv("SALESYNC_RETRY_MAX_SECONDS", "1")
    retry = configured_engine(load_settings(), factory, lambda: datetime.now(UTC)).sender.retry
    assert retry.cap == timedelta(seconds=5)
