"""What every command shares: settings, the database, consoles, friendly argument errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from salesync import logs
from salesync.config import ConfigError, Settings, load_settings
from salesync.engine.wiring import known_secrets
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Tenants
from salesync.store.schema import SchemaTooNewError

console = Console()
err = Console(stderr=True)


def settings() -> Settings:
    """The settings, with logging set up by them: redacted, the secrets they hold known."""
    try:
        cfg = load_settings()
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    logs.configure(cfg.log_level, secrets=known_secrets(cfg), fmt=cfg.log_format)
    return cfg


@contextmanager
def database(cfg: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(cfg.database, cfg.pool())
    try:
        try:
            migrate(engine)
        except SchemaTooNewError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        yield session_factory(engine)
    finally:
        engine.dispose()


def require_tenant(session: Session, tenant_id: str) -> None:
    if Tenants(session).get(tenant_id) is None:
        known = ", ".join(t.id for t in Tenants(session).all()) or "none yet; run `salesync demo`"
        err.print(f"[red]No tenant {tenant_id!r}.[/red] Tenants: {known}")
        raise typer.Exit(2)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[red]{text!r} is not a date; write it as YYYY-MM-DD.[/red]")
        raise typer.Exit(2) from None


def fail(message: str, lines: Sequence[str] = ()) -> typer.Exit:
    """A usage error: ``message`` in red, then each line of detail, and exit code 2."""
    err.print(f"[red]{message}[/red]")
    for line in lines:
        err.print(f"  {line}")
    return typer.Exit(2)
