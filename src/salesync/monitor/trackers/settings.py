"""Where salesync keeps tickets outside itself, and the credentials it uses there."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

GITHUB_API = "https://api.github.com"


def _url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class GitHubSettings(BaseModel):
    """A GitHub repository whose issues mirror the tickets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_url: str = Field(
        default=GITHUB_API,
        description="the REST API's address (https://HOST/api/v3 for GitHub Enterprise Server)",
    )
    owner: str = Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$",
        description="the user or organisation that owns the repository",
    )
    repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$", description="the repository's name")
    token: SecretStr = Field(
        description="a fine-grained token with Issues: read and write on the repository"
    )
    label: str = Field(
        default="salesync",
        min_length=1,
        max_length=50,
        description="the label every salesync issue carries (created on first use)",
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait for an answer")

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)


class JiraSettings(BaseModel):
    """A Jira Cloud project whose issues mirror the tickets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="the site's address, such as https://acme.atlassian.net")
    project_key: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]{1,9}$", description="the project's key, such as SUP"
    )
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+$", description="the e-mail of the account the API token is of"
    )
    api_token: SecretStr = Field(
        description="an API token of that account (id.atlassian.com, Security, API tokens)"
    )
    issue_type: str = Field(default="Bug", min_length=1, description="the type of issue to open")
    label: str = Field(
        default="salesync",
        pattern=r"^\S{1,50}$",
        description="the label every salesync issue carries (no spaces)",
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait for an answer")

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)
