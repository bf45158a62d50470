"""Settings: TOML plus SALESYNC_* variables, validated with messages that say what to fix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from salesync.config import ConfigError, load_settings
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
