"""How salesync reaches the merchant's mailbox."""

from __future__ import annotations

from email.headerregistry import Address
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class MailSettings(BaseModel):
    """The SMTP server notices go through, who they come from, and where links point."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="localhost", description="the SMTP server's host name")
    port: int = Field(default=25, ge=1, le=65535, description="the SMTP server's port")
    sender: str = Field(
        default="salesync@localhost", description="the From address, such as support@example.com"
    )
    sender_name: str = Field(default="salesync", description="the name shown beside the address")
    starttls: bool = Field(default=False, description="upgrade the connection with STARTTLS")
    username: str | None = Field(
        default=None, description="the SMTP login, if the server wants one"
    )
    password: SecretStr | None = Field(default=None, description="the SMTP password")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="salesync's address as merchants reach it; links in emails start with it",
    )
    digest_hour: int = Field(
        default=8, ge=0, le=23, description="the local hour (0-23) at which daily digests go out"
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait on the SMTP server")

    @field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in value.strip()):
            raise ValueError("not an e-mail address (name@example.com)")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_login(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        return self

    @property
    def from_address(self) -> Address:
        return Address(display_name=self.sender_name, addr_spec=self.sender)

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2]

    def link(self, path: str) -> str:
        """An absolute link to ``path`` on salesync's public address."""
        return f"{self.public_url}/{path.lstrip('/')}"
