"""A demo run once for a test module, whose folder each test copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesync.cli.app import app


def demo_folder(tmp_path_factory: pytest.TempPathFactory, args: list[str]) -> Path:
    """A folder where ``salesync`` ran with ``args`` (the demo) and no configuration, for
    a module's tests to copy (``shutil.copytree``) rather than each running the demo."""
    home = tmp_path_factory.mktemp("demo-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(home)
        patch.setenv("SALESYNC_CONFIG", str(home / "none.toml"))
        patch.delenv("SALESYNC_DATABASE_URL", raising=False)
        patch.setenv("COLUMNS", "200")
        ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 0, ran.output
    return home
