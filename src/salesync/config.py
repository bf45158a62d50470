"""Settings: one TOML file plus ``SALESYNC_*`` environment variables, validated at start.

Precedence, highest first: environment variables, the TOML file (``SALESYNC_CONFIG`` or
``./salesync.toml``), the defaults below. A bad value is reported with the form it expects.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from salesync.crm.settings import CrmSettings
from salesync.monitor.notify.settings import MailSettings
from salesync.monitor.routing.config import DEFAULT_SUPPORT, SupportConfig
from salesync.monitor.trackers.settings import GitHubSettings, JiraSettings
from salesync.store.database import Pool
from salesync.store.vault import Vault, new_key
from salesync.support.catalog import CatalogError, load_catalog
from salesync.support.inbound import InboundSettings
from salesync.support.plans import Catalog

SUPPORTED_DATABASES = ("sqlite", "postgresql")


class ConfigError(Exception):
    """Settings that cannot be used; the message names each bad setting and its form."""


def _config_file() -> Path:
    return Path(os.environ.get("SALESYNC_CONFIG", "salesync.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALESYNC_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(
        default=Path("var"), description="a folder for the SQLite file and the local key"
    )
    database_url: str | None = Field(
        default=None,
        description="a SQLAlchemy URL such as sqlite:///var/salesync.db or "
        "postgresql://user:pass@host/db",
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        description="PostgreSQL connections each process keeps open (a Celery worker "
        "needs its --concurrency plus one)",
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        description="PostgreSQL connections each process may open beyond the pool at busy "
        "moments, closed again after use",
    )
    database_pool_pre_ping: bool = Field(
        default=True,
        description="test each PostgreSQL connection as it is taken from the pool, so one "
        "the server dropped is replaced instead of failing the work (true or false)",
    )
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Fernet keys, newest first, as a TOML list or a comma-separated string "
        "(make one with `salesync keygen`)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="one of DEBUG, INFO, WARNING, ERROR"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="auto (JSON lines unless standard error is a terminal), json or console",
    )
    qbo_client_id: str | None = Field(
        default=None, description="the Intuit app's client id (developer.intuit.com)"
    )
    qbo_client_secret: SecretStr | None = Field(
        default=None, description="the Intuit app's client secret"
    )
    qbo_token_url: str = Field(
        default="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        description="Intuit's token endpoint URL (a sandbox's in tests)",
    )
    xero_client_id: str | None = Field(
        default=None, description="the Xero app's client id (developer.xero.com)"
    )
    xero_client_secret: SecretStr | None = Field(
        default=None, description="the Xero app's client secret"
    )
    xero_token_url: str = Field(
        default="https://identity.xero.com/connect/token",
        description="Xero's token endpoint URL (a sandbox's in tests)",
    )
    square_client_id: str | None = Field(
        default=None, description="the Square application's id (developer.squareup.com)"
    )
    square_client_secret: SecretStr | None = Field(
        default=None, description="the Square application's secret"
    )
    lightspeed_x_client_id: str | None = Field(
        default=None,
        description="the Lightspeed Retail (X-Series) add-on's client id "
        "(developers.retail.lightspeed.app)",
    )
    lightspeed_x_client_secret: SecretStr | None = Field(
        default=None, description="the Lightspeed Retail (X-Series) add-on's client secret"
    )
    lightspeed_r_client_id: str | None = Field(
        default=None,
        description="the Lightspeed Retail (R-Series) app's client id (used when a "
        "connection does not hold its own)",
    )
    lightspeed_r_client_secret: SecretStr | None = Field(
        default=None, description="the Lightspeed Retail (R-Series) app's client secret"
    )
    clover_client_id: str | None = Field(
        default=None,
        description="the Clover app's id (its App ID in the Clover Developer Dashboard)",
    )
    clover_client_secret: SecretStr | None = Field(
        default=None,
        description="the Clover app's secret (a refresh needs only the app id)",
    )
    clover_webhook_auth_code: SecretStr | None = Field(
        default=None,
        description="the Clover app's webhook auth code (shown in the Developer Dashboard "
        "once the webhook URL <public_url>/webhooks/clover is verified)",
    )
    qbo_authorize_url: str = Field(
        default="https://appcenter.intuit.com/connect/oauth2",
        description="Intuit's authorization URL merchants reconnect through",
    )
    xero_authorize_url: str = Field(
        default="https://login.xero.com/identity/connect/authorize",
        description="Xero's authorization URL merchants reconnect through",
    )
    xero_connections_url: str = Field(
        default="https://api.xero.com/connections",
        description="Xero's list of the organisations a grant reaches",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="salesync's address as merchants reach it (links in e-mails, the "
        "OAuth redirect), such as https://sync.example.com",
    )
    mail: MailSettings | None = Field(
        default=None,
        description="a [mail] table (host, port, sender, starttls, username, password) "
        "naming the SMTP server notices go through; without it notices wait unsent",
    )
    support: SupportConfig = Field(
        default=DEFAULT_SUPPORT,
        description="a [support] table of teams and ownership rules (see README, Support)",
    )
    catalog: str = Field(
        default="proactive",
        description="the plan catalog: 'proactive' (one $10 plan, developers on every "
        "failure), 'tiered' (Silver, Gold, Platinum) or the path of a catalog TOML file",
    )
    inbound: InboundSettings | None = Field(
        default=None,
        description="an [inbound] table (address, host, port): the SMTP server `salesync "
        "serve` runs for merchants' support requests by e-mail to that address",
    )
    github: GitHubSettings | None = Field(
        default=None,
        description="a [github] table (owner, repo, token) whose issues mirror the tickets",
    )
    jira: JiraSettings | None = Field(
        default=None,
        description="a [jira] table (base_url, project_key, email, api_token) whose "
        "issues mirror the tickets",
    )
    crm: CrmSettings = Field(
        default_factory=CrmSettings,
        description="a [crm] table (enabled, trigger_horizon_hours, backfill_batch) for "
        "the built-in clienteling CRM",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="a bearer token /metrics requires (open to every caller when unset)",
    )
    send_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how long a worker holds a posting it is sending; a posting whose "
        "worker died is read back by its key and sent by another after this long",
    )
    retry_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description="the first wait before a posting that failed transiently is tried "
        "again; each further try waits up to twice as long (with jitter), at most "
        "retry_max_seconds",
    )
    retry_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="the longest wait between two tries of a posting (a provider's "
        "Retry-After can ask for longer)",
    )
    sweep_every_minutes: float = Field(
        default=15.0,
        ge=0,
        description="how often the runner (serve, worker, Celery workers) sweeps each "
        "source connection for what its webhooks missed; 0: only `salesync sweep` does",
    )
    broker_url: str | None = Field(
        default=None,
        description="a Redis URL (redis://host:6379/0): run the work on Celery workers "
        "(`salesync worker --celery`) with rate limits shared through that Redis; unset, "
        "the work runs in process",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if url.get_backend_name() not in SUPPORTED_DATABASES:
            raise ValueError(f"{url.get_backend_name()} is not supported")
        return value

    @field_validator("catalog")
    @classmethod
    def _check_catalog(cls, value: str) -> str:
        try:
            load_catalog(value)
        except CatalogError as error:
            raise ValueError(str(error)) from None
        return value

    def plan_catalog(self) -> Catalog:
        """The plan catalog in force (checked when the settings were read)."""
        return load_catalog(self.catalog)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def mail_settings(self) -> MailSettings:
        """How notices are written and sent: the ``[mail]`` table, its links starting at
        ``public_url`` unless it names its own."""
        mail = self.mail or MailSettings()
        if "public_url" in mail.model_fields_set:
            return mail
        return mail.model_copy(update={"public_url": self.public_url})

    @property
    def database(self) -> str:
        """The database URL in force: the configured one, else a SQLite file in data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'salesync.db'}"

    def pool(self) -> Pool:
        """The database connection pool each process keeps (PostgreSQL)."""
        return Pool(
            size=self.database_pool_size,
            max_overflow=self.database_max_overflow,
            pre_ping=self.database_pool_pre_ping,
        )

    def vault(self) -> Vault:
        """The vault for credentials. Without configured keys (the embedded default), a key
        is kept in ``data_dir/secret.key``, readable by its owner only."""
        if self.secret_keys:
            return Vault([k.get_secret_value() for k in self.secret_keys])
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.write_text(new_key())
        return Vault([key_file.read_text().strip()])

    def oauth_client(self, provider: str) -> tuple[str, str, str] | None:
        """(token URL, client id, client secret) of ``provider``'s app, if configured."""
        found = {
            "qbo": (self.qbo_token_url, self.qbo_client_id, self.qbo_client_secret),
            "xero": (self.xero_token_url, self.xero_client_id, self.xero_client_secret),
        }.get(provider)
        if found is None or not found[1] or found[2] is None:
            return None
        return found[0], str(found[1]), found[2].get_secret_value()

    def source_app(self, provider: str) -> tuple[str, str | None] | None:
        """(client id, client secret) of the OAuth app salesync holds at a source
        ``provider``, if configured. Sources have no single token URL: it follows each
        connection (a retailer's own host, the provider's sandbox), so it is not here."""
        found = {
            "square": (self.square_client_id, self.square_client_secret),
            "lightspeed_x": (self.lightspeed_x_client_id, self.lightspeed_x_client_secret),
            "lightspeed_r": (self.lightspeed_r_client_id, self.lightspeed_r_client_secret),
            "clover": (self.clover_client_id, self.clover_client_secret),
        }.get(provider)
        if found is None or not found[0]:
            return None
        return str(found[0]), found[1].get_secret_value() if found[1] is not None else None


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, or raise ``ConfigError`` naming every bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    fields = Settings.model_fields
    lines = [f"salesync cannot start: {exc.error_count()} bad setting(s)"]
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        field = fields.get(name)
        expected = field.description if field and field.description else "see README"
        where = f"SALESYNC_{name.upper()} (or `{name}` in {_config_file()})"
        # A table's inner fields: name the whole path (``support.rules[2]``).
        inner = [p for p in error["loc"][1:] if not _is_union_tag(p)]
        path = name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in inner)
        if inner:
            where = f"`{path}` in {_config_file()}"
            expected = _inner_description(name, inner) or expected
        if error["type"] == "extra_forbidden":
            lines.append(f"- `{path}` in {_config_file()} is not a setting salesync knows")
        else:
            lines.append(
                f"- {where}: {str(error['msg']).removeprefix('Value error, ')}; expected {expected}"
            )
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    """Pydantic names the member of ``X | None`` it tried (``MailSettings``) in the
    location; a person reading the error wants the path in their file."""
    return isinstance(part, str) and part[:1].isupper()


def _inner_description(name: str, inner: Sequence[object]) -> str | None:
    """The description of a table's field (``mail.port``), when the table's model has one."""
    annotation = Settings.model_fields[name].annotation if name in Settings.model_fields else None
    for model in getattr(annotation, "__args__", (annotation,)):
        fields = getattr(model, "model_fields", None)
        if fields and isinstance(inner[0], str) and inner[0] in fields:
            description = fields[inner[0]].description
            return str(description) if description else None
    return None
