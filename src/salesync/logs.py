"""Log lines with secrets and personal data taken out (DESIGN.md §2.7).

``configure`` sets up structlog so that every value of every event (nested dicts and
lists, the rendered traceback of an exception, the stack) passes through a ``Redactor``
before it is rendered, and routes the standard library's ``logging`` (uvicorn, httpx,
SQLAlchemy) through the same redactor: each record's message, arguments, traceback and
stack are redacted as the record is made, so a handler configured elsewhere (uvicorn
installs its own) still writes only redacted text.

Lines are JSON, one object a line with ``timestamp``, ``level``, ``logger`` and ``event``,
when standard error is not a terminal (a service manager, a container, a file: whatever
collects them wants to parse them), and coloured console lines on a terminal; the
``format`` argument (setting ``log_format``) can force either.

Exact secrets salesync learns while running (a token opened from the vault, a refreshed
grant) are added with ``remember_secrets``; any thread may call it.

Cost: the redactor's patterns take 2-7 µs per string value, so a typical line (an event
and four short fields, six known secrets) takes about 20 µs to redact the first time;
short strings (event names, ids, reasons) repeat, and are remembered redacted, which
brings a repeated line to about 6 µs of the 45 µs it takes to write. Values that are not
text (numbers, flags) are not searched.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from salesync.domain.redaction import Redactor

__all__ = [
    "LogFormat",
    "RedactSecrets",
    "configure",
    "current",
    "redact_record",
    "remember_secrets",
]

LogFormat = Literal["auto", "json", "console"]
"""``auto``: JSON lines unless standard error is a terminal."""

_guard = threading.Lock()
_redactor = Redactor.of()
_base_factory: Callable[..., logging.LogRecord] | None = None

QUIET_LIBRARIES = logging.WARNING
"""Libraries log below this only at DEBUG: httpx alone writes a line per request at INFO."""


def current() -> Redactor:
    """The redactor log lines pass through now."""
    return _redactor


def remember_secrets(values: Iterable[str | None]) -> None:
    """Remove these exact values from every later log line (short ones are ignored)."""
    global _redactor  # noqa: PLW0603 - one redactor for the process, swapped whole
    with _guard:
        _redactor = _redactor.with_secrets(values)


def _plain(value: Any) -> Any:
    """``value`` as JSON-like data, anything else as its ``repr`` (which is what a
    renderer would have written, and what must be searched)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return repr(value)


SHORT = 128
"""Strings up to this length are remembered redacted (see ``_short``)."""


@functools.lru_cache(maxsize=4096)
def _short(redactor: Redactor, key: str, value: str) -> Any:
    # Event names, ids and reasons repeat line after line; the redactor's patterns cost a
    # few microseconds per string, a cache hit a fraction of one.
    return redactor.value(value, key)


class RedactSecrets:
    """A structlog processor: every value of the event, redacted by its key and text.

    Run it after ``format_exc_info`` and ``StackInfoRenderer`` so tracebacks are text by
    then, and before the renderer.
    """

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        redactor = _redactor
        for key, value in event.items():
            if isinstance(value, str) and len(value) <= SHORT:
                event[key] = _short(redactor, key, value)
            else:
                event[key] = redactor.value(_plain(value), key)
        return event


def redact_record(record: logging.LogRecord, redactor: Redactor | None = None) -> None:
    """Redact a standard library record in place: the message with its arguments merged,
    the traceback (kept as text; the exception object with its frames is dropped) and the
    stack."""
    redactor = redactor or _redactor
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit: logging reports it
        return
    record.msg, record.args = redactor.text(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redactor.text(text.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redactor.text(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.text(record.stack_info)


def _redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    make = _base_factory or logging.LogRecord
    record = make(*args, **kwargs)
    redact_record(record)
    return record


def _record_texts(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """A standard library record's traceback and stack, already redacted text, as the
    renderer's ``exception`` and ``stack``."""
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        if record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = record.stack_info
    event.pop("exc_info", None)
    event.pop("stack_info", None)
    return event


class _Stderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream: TextIO = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must not raise; it reports instead
            self.handleError(record)


class _NamedPrintLogger(structlog.PrintLogger):
    """A print logger that knows the name it was asked for (``get_logger("salesync.api")``),
    so lines can say which part of salesync wrote them."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)
        self.name = name


def _stderr_logger(*args: Any) -> _NamedPrintLogger:
    return _NamedPrintLogger(str(args[0]) if args else "salesync")


def _renderer(fmt: LogFormat) -> Processor:
    """JSON lines off a terminal (or when asked), console lines on one."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    if fmt == "json":
        # Values are JSON-like by now (``RedactSecrets``); ``str`` covers what is left.
        return structlog.processors.JSONRenderer(default=str, ensure_ascii=False)
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    raise ValueError(f"{fmt!r} is not a log format; use auto, json or console")


def configure(
    level: str,
    *,
    redactor: Redactor | None = None,
    secrets: Iterable[str | None] = (),
    fmt: LogFormat = "auto",
) -> None:
    """Log at ``level`` and above to standard error, every line redacted by ``redactor``
    (``Redactor.of()`` by default) with ``secrets`` as exact values, rendered as ``fmt``
    says. Calling it again replaces the previous set-up."""
    global _redactor, _base_factory  # noqa: PLW0603 - the process's logging
    threshold = logging.getLevelName(level.upper())
    if not isinstance(threshold, int):
        raise ValueError(f"{level!r} is not a logging level")
    renderer = _renderer(fmt)
    with _guard:
        _redactor = (redactor or Redactor.of()).with_secrets(secrets)
        if logging.getLogRecordFactory() is not _redacted_record:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacted_record)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        RedactSecrets(),
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )

    handler = _Stderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                _record_texts,
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold if threshold <= logging.DEBUG else max(threshold, QUIET_LIBRARIES))
