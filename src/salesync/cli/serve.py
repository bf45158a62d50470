"""The HTTP API from the command line: ``salesync serve`` and ``salesync api-token``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app, server
from salesync.api.tokens import ApiTokens
from salesync.cli.common import console, database, err, require_tenant, settings
from salesync.clock import system_clock
from salesync.config import Settings
from salesync.engine.runner import InProcessRunner
from salesync.engine.wiring import (
    configured_engine,
    due_sweeps,
    monitor,
    reconnect,
    redactor,
    support_service,
    token_manager,
)
from salesync.support.inbound import InboundServer, serve_inbound

token_app = typer.Typer(help="Bearer tokens for the API (manual entry).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(token_app, name="api-token")


def start_inbound(
    cfg: Settings, factory: sessionmaker[Session], clock: Callable[[], datetime]
) -> InboundServer | None:
    """The SMTP server for support requests by e-mail that ``[inbound]`` configures,
    started; None when there is no ``[inbound]`` table."""
    if cfg.inbound is None:
        return None
    try:
        return serve_inbound(
            factory, cfg.plan_catalog(), cfg.inbound, clock, public_url=cfg.public_url
        )
    except OSError as exc:
        where = f"{cfg.inbound.host}:{cfg.inbound.port}"
        err.print(
            f"[red]The support mail server cannot listen on {where}: {escape(str(exc))}[/red]\n"
            "  Set `host` and `port` in the \\[inbound] table to an address that is free "
            "and this user may bind (ports below 1024 need root)."
        )
        raise typer.Exit(1) from None


def _address(inbound: InboundServer) -> str:
    settings = inbound.handler.settings
    return f"{settings.host}:{settings.port} for {settings.address}"


def serve(
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: every one)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    interval: Annotated[
        float, typer.Option(min=0.05, help="seconds between the runner's passes")
    ] = 1.0,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="behind a proxy: its addresses (comma-separated, or '*') whose "
            "X-Forwarded-For and X-Forwarded-Proto headers are believed"
        ),
    ] = None,
    runner: Annotated[
        bool,
        typer.Option(
            "--runner/--no-runner",
            help="run the engine and the support loop in this process (--no-runner: "
            "leave them to `salesync worker` processes)",
        ),
    ] = True,
) -> None:
    """Serve the API: webhooks are stored and acknowledged at once and processed by the
    runner in this process (or by `salesync worker`); manual entries are processed in
    their request."""
    cfg = settings()  # logging is set up there, redacted (salesync.logs)
    with database(cfg) as factory:
        engine = configured_engine(cfg, factory, system_clock)
        tokens = token_manager(cfg, factory, system_clock, incidents=engine.incidents)
        app = create_app(
            factory,
            system_clock,
            cfg.vault(),
            engine=engine,
            metrics_token=cfg.metrics_token.get_secret_value() if cfg.metrics_token else None,
            redactor=redactor(cfg),
            reconnect=reconnect(cfg, factory, system_clock, tokens),
            mail=cfg.mail_settings(),
            support=support_service(cfg, factory, system_clock),
            clover_auth_code=(
                cfg.clover_webhook_auth_code.get_secret_value()
                if cfg.clover_webhook_auth_code
                else None
            ),
        )
        passes = (
            InProcessRunner(
                engine,
                interval,
                monitor(cfg, factory, system_clock),
                sweeps=due_sweeps(cfg, factory, system_clock),
            )
            if runner
            else None
        )
        work = (
            f"  the runner takes in, plans and sends every {interval:g} s, then assigns,\n"
            "  escalates and e-mails about tickets"
            if passes
            else "  no runner here: `salesync worker` takes in, plans and sends"
        )
        inbound = start_inbound(cfg, factory, system_clock)
        mail = (
            f"  support mail: SMTP on {_address(inbound)}\n"
            if inbound is not None
            else "  support mail: off (an \\[inbound] table turns it on)\n"
        )
        try:
            console.print(
                f"salesync is listening on http://{host}:{port}\n"
                "  dashboard:    / (sign in with a user from `salesync user add`)\n"
                "  REST API:     /api/v1 (OpenAPI at /openapi.json, browsable at /docs)\n"
                "  webhooks:     POST /webhooks/<connection id> (Clover's app: /webhooks/clover)\n"
                "  manual entry: POST /api/v1/tenants/<tenant>/sales (and /refunds)\n"
                "  tickets:      GET /api/v1/tenants/<tenant>/tickets (and /measures, /notices)\n"
                "  metrics:      GET /metrics; reconnect links: /connections/<id>/reconnect\n"
                f"{mail}{work}; Ctrl-C stops"
            )
            if passes is not None:
                passes.start()
            server.run(
                app, host, port, log_level=cfg.log_level, forwarded_allow_ips=forwarded_allow_ips
            )
        finally:
            if inbound is not None:
                inbound.stop()
            if passes is not None:
                passes.stop()
                if passes.last_error is not None:
                    err.print(f"[yellow]The runner's last error: {passes.last_error}[/yellow]")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="what the token is for, e.g. 'front till'")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
) -> None:
    """Issue a token; it is shown once, only its hash is kept."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        issued, secret = ApiTokens(session, tenant, system_clock).issue(name)
    console.print(f"API token {issued.id} for {tenant} ({name}); shown this once:")
    typer.echo(secret)


@token_app.command("list")
def list_tokens(tenant: Annotated[str, typer.Option(help="tenant id")] = "demo") -> None:
    """List a tenant's tokens (never the secrets)."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        tokens = ApiTokens(session, tenant, system_clock).all()
    table = Table(title=f"API tokens: {tenant}")
    for column in ("Id", "Name", "Created", "Revoked"):
        table.add_column(column)
    for token in tokens:
        revoked = f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else ""
        table.add_row(token.id, token.name, f"{token.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="the token's id (from `api-token list`)")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        try:
            ApiTokens(session, tenant, system_clock).revoke(token_id)
        except KeyError:
            err.print(f"[red]No API token {token_id} for {tenant}.[/red]")
            raise typer.Exit(2) from None
    console.print(f"Revoked API token {token_id}.")
