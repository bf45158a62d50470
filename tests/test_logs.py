"""Log lines are redacted before they are written: structlog events (nested values,
exceptions) and the standard library's records alike, secrets learnt at run time too.
Off a terminal they are JSON, one object a line."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from salesync import logs

SECRET = "client-secret-5d1e0a"  # noqa: S105 - a planted value the lines must not show
CARD = "4111 1111 1111 1111"


@pytest.fixture
def reconfigure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``logs.configure`` for the test, the logging set-up put back as it was afterwards."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logs, "_redactor", logs.current())
    yield logs.configure
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


@pytest.fixture
def configured(reconfigure: Callable[..., None]) -> None:
    """Console lines at DEBUG, with ``SECRET`` known."""
    reconfigure("DEBUG", secrets=[SECRET], fmt="console")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line of ``text`` parsed as one JSON object (failing on any that is not)."""
    found = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(line, dict) for line in found)
    return found


def test_nested_values_are_redacted_by_key_and_text(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A known secret, a bearer token, a card and an e-mail in nested data are removed;
    the rest of the line stays."""
    structlog.get_logger("t").info(
        "refresh_failed",
        request={"headers": [["Authorization", "Bearer abc.def.ghi"]], "token": "xyz-123"},
        reasons=[f"secret {SECRET} refused", f"card {CARD}"],
        contact={"email": "jo@shop.test"},
        error=ValueError(f"bad {SECRET}"),
        attempts=3,
    )
    line = capsys.readouterr().err
    assert "refresh_failed" in line
    assert "attempts=3" in line
    for leaked in (SECRET, "abc.def.ghi", "xyz-123", CARD, "jo@shop.test"):
        assert leaked not in line


def test_an_exception_traceback_is_redacted(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The traceback rendered into the line carries the redacted exception message."""
    try:
        raise RuntimeError(f"token {SECRET} rejected for {CARD}")
    except RuntimeError:
        structlog.get_logger("t").exception("send_failed")
    line = capsys.readouterr().err
    assert "Traceback" in line
    assert "RuntimeError: token [redacted] rejected for [card]" in line
    assert SECRET not in line


def test_standard_library_records_are_redacted(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record's arguments, a URL's query secret and its traceback are redacted, for a
    handler of its own too (as uvicorn installs)."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    # A logger with a handler of its own, as uvicorn's are (a name of the test's own: an
    # earlier test that served the API left uvicorn's loggers configured not to propagate).
    own = logging.getLogger("salesync.tests.server")
    keep = Keep()
    own.addHandler(keep)
    try:
        logging.getLogger("httpx").warning(
            "HTTP Request: %s", f"https://api.test/tokens?client_secret={SECRET}&x=1"
        )
        try:
            raise ValueError(SECRET)
        except ValueError:
            own.error("Exception in ASGI application", exc_info=True)
    finally:
        own.removeHandler(keep)
    written = capsys.readouterr().err
    assert "client_secret=[redacted]&x=1" in written
    assert "ValueError: [redacted]" in written
    assert "ValueError: [redacted]" in seen[0]
    assert SECRET not in written + "".join(seen)


def test_a_secret_remembered_later_is_redacted(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value given to ``remember_secrets`` after start is removed from later lines."""
    opened = "vault-opened-token-77"
    structlog.get_logger("t").info("before", value=opened)
    logs.remember_secrets([opened])
    structlog.get_logger("t").info("after", value=opened)
    before, after = capsys.readouterr().err.splitlines()
    assert opened in before
    assert opened not in after


def test_an_unknown_level_is_refused() -> None:
    """A level logging does not know is an error, not a silent default."""
    with pytest.raises(ValueError, match="not a logging level"):
        logs.configure("LOUD")


def test_off_a_terminal_lines_are_json_and_redacted(
    reconfigure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Captured standard error (not a terminal) gets one JSON object a line, with the
    time, level, logger and fields, and the secrets taken out of nested values too."""
    reconfigure("INFO", secrets=[SECRET])
    structlog.get_logger("salesync.tests").info(
        "refresh_failed",
        request={"headers": [["Authorization", "Bearer abc.def.ghi"]]},
        reason=f"secret {SECRET} refused for {CARD}",
        attempts=3,
    )
    structlog.get_logger("salesync.tests").debug("below_the_level")
    written = capsys.readouterr().err
    [line] = json_lines(written)
    assert line["event"] == "refresh_failed"
    assert (line["level"], line["logger"], line["attempts"]) == ("info", "salesync.tests", 3)
    assert line["timestamp"].endswith("Z")
    assert line["reason"] == "secret [redacted] refused for [card]"
    for leaked in (SECRET, "abc.def.ghi", CARD):
        assert leaked not in written


def test_standard_library_records_and_tracebacks_are_json_too(
    reconfigure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """A standard library record (httpx, uvicorn) is a JSON line with its logger's name,
    and an exception's traceback is one redacted string inside it."""
    reconfigure("INFO", secrets=[SECRET], fmt="json")
    logging.getLogger("httpx").warning("token %s refused", SECRET)
    try:
        raise RuntimeError(f"token {SECRET} rejected")
    except RuntimeError:
        structlog.get_logger("salesync.tests").exception("send_failed")
    written = capsys.readouterr().err
    record, failure = json_lines(written)
    assert (record["logger"], record["level"]) == ("httpx", "warning")
    assert record["event"] == "token [redacted] refused"
    assert failure["event"] == "send_failed"
    assert "RuntimeError: token [redacted] rejected" in failure["exception"]
    assert SECRET not in written


def test_the_console_format_can_be_forced(
    reconfigure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """``console`` writes readable key=value lines even off a terminal; an unknown
    format is refused."""
    reconfigure("INFO", fmt="console")
    structlog.get_logger("salesync.tests").info("hello", attempts=3)
    line = capsys.readouterr().err
    assert "attempts=3" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    with pytest.raises(ValueError, match="not a log format"):
        logs.configure("INFO", fmt="xml")  # type: ignore[arg-type]
