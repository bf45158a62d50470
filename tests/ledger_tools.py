"""Running the real accounting tools on exports: bean-check and hledger."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path


def bean_check() -> Path:
    path = Path(sys.executable).parent / "bean-check"
    assert path.is_file(), f"bean-check is missing next to {sys.executable}: install beancount"
    return path


def hledger(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("hledger")
    assert path is not None, "hledger is missing from PATH: install it (apt-get install hledger)"
    # hledger refuses non-ASCII bytes unless the locale is UTF-8.
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    return subprocess.run([path, *args], capture_output=True, text=True, check=False, env=env)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)


def nonzero(sums: Mapping[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {key: amount for key, amount in sums.items() if amount}


def hledger_balances(path: Path) -> dict[tuple[str, str], Decimal]:
    result = hledger(
        "-f", str(path), "balance", "--flat", "--layout=bare", "--no-total", "-O", "csv"
    )
    assert (result.returncode, result.stderr) == (0, "")
    rows = csv.DictReader(io.StringIO(result.stdout))
    return {
        (row["account"], row["commodity"]): Decimal(row["balance"].replace(",", "")) for row in rows
    }
