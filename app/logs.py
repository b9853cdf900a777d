"""Logging, configured once: one line per record, the request's context on each, no secret ever.

On Cloud Run (`K_SERVICE` set) or with `USE_CLOUD_LOGGING=true`, google-cloud-logging's
StructuredLogHandler writes one JSON object per record to stdout, with `severity` and the trace
from `X-Cloud-Trace-Context`. Elsewhere lines are readable text, and `LOG_FILE` adds a rotating
file. Both carry `event`, `request_id` and, once known, `alert_id` and `idempotency_key`.
Every handler redacts the configured secrets and any token the bridge has seen.
`gunicorn_logconfig` sends gunicorn's own lines through the same JSON handler (app/gunicorn_conf.py).
"""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import re
import sys
import threading
import warnings
from typing import Any, Iterable

CONTEXT_FIELDS = ("request_id", "alert_id", "idempotency_key")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("bridge_log_context", default={})
# Library loggers that chatter at INFO/DEBUG about every request (and, at DEBUG, print URLs
# that can carry a Telegram bot token).
_QUIET = ("urllib3", "google", "grpc", "werkzeug", "aws_lambda_powertools")
# The Fyers SDK's own loggers log request bodies and answers (tokens among them): off entirely.
_SILENCED = ("FyersAPI", "FyersAPIRequest")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


class Redactor:
    """Replaces known secret values, and anything shaped like a JWT, with a marker."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= 4}
        self._longest_first = self._ordered()

    def add(self, *values: str | None) -> None:
        """Also hide these values from now on (tokens learnt at run time)."""
        with self._lock:
            self._secrets.update(v for v in values if v and len(v) >= 4)
            self._longest_first = self._ordered()

    def _ordered(self) -> tuple[str, ...]:
        # Sorted once per change, not per string: every log record cleans several strings.
        return tuple(sorted(self._secrets, key=len, reverse=True))

    def clean(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self._longest_first:  # a tuple: read without the lock, replaced whole by add()
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _JWT.sub(REDACTED, text) if "eyJ" in text else text

    def clean_value(self, value: Any) -> Any:
        """A JSON-like value with every string cleaned."""
        if isinstance(value, str):
            return self.clean(value)
        if value is None or isinstance(value, (int, float)):  # bool too: nothing to clean
            return value
        if isinstance(value, dict):
            return {k: self.clean_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.clean_value(v) for v in value]
        return value


class _RecordFilter(logging.Filter):
    """Adds the request's context and redacts; attached to every handler, so it sees all loggers."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_bridge_done", False):
            return True
        record._bridge_done = True
        context = _context.get()
        fields: dict[str, Any] = {"event": getattr(record, "event", None) or ""}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None) or context.get(name)
            setattr(record, name, value or "-")
            if value:
                fields[name] = value
        for name, value in (getattr(record, "fields", None) or {}).items():
            fields[name] = value
        record.event = fields["event"] or "-"
        # Resolve the message once, clean it, and freeze it: no handler formats raw args again.
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not lose the line
            message = f"{record.msg!s} {record.args!r}"
        message = self._redactor.clean(message)
        if record.exc_info:
            message += "\n" + self._redactor.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message, None
        record.json_fields = self._redactor.clean_value({k: v for k, v in fields.items() if v})
        return True


def start_log_context(**fields: Any) -> contextvars.Token:
    """Begin a fresh context (a request); pass the token to `reset_log_context` at its end."""
    return _context.set({k: v for k, v in fields.items() if v})


def reset_log_context(token: contextvars.Token) -> None:
    """End a context begun by `start_log_context`."""
    try:
        _context.reset(token)
    except ValueError:  # ended from another context: start clean rather than leak fields
        _context.set({})


def add_log_context(**fields: Any) -> None:
    """Add fields to the current context (e.g. the alert id once it is known)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def log_event(logger: logging.Logger, level: int, event: str, message: str, **fields: Any) -> None:
    """One named event: `event` is what log-based metrics and alert policies match on."""
    logger.log(level, message, extra={"event": event, "fields": fields})


def configure_logging(
    level: str = "INFO",
    structured: bool = False,
    log_file: str | None = None,
    project_id: str | None = None,
    redactor: Redactor | None = None,
    stream=None,
) -> Redactor:
    """(Re)configure the root logger with the bridge's handlers; safe to call more than once."""
    redactor = redactor or Redactor()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bridge", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = []
    if structured:
        handlers.append(_json_handler(redactor, project_id, stream))
    else:
        console = logging.StreamHandler(stream or _Std("stderr"))
        console.setFormatter(_TEXT)
        handlers.append(console)
    if log_file:
        rotating = logging.handlers.RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5)
        rotating.setFormatter(_TEXT)
        handlers.append(rotating)
    for handler in handlers:
        root.addHandler(_owned(handler, redactor))
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in _SILENCED:
        logging.getLogger(name).disabled = True
    return redactor


def _owned(handler: logging.Handler, redactor: Redactor) -> logging.Handler:
    """The handler, redacting and marked as ours (the next `configure_logging` replaces it)."""
    if not getattr(handler, "_bridge", False):
        handler._bridge = True
        # Our filter runs first, so even the Cloud Logging handler sees clean records.
        handler.filters.insert(0, _RecordFilter(redactor))
    return handler


def _json_handler(redactor: Redactor, project_id: str | None = None, stream=None) -> logging.Handler:
    """google-cloud-logging's StructuredLogHandler: one JSON object per record on stdout, with `severity`."""
    # The first import warns (e.g. google.api_core's FutureWarning about the Python version) before
    # any handler exists, so the warning would be bare text on stderr: held, then logged as JSON.
    with warnings.catch_warnings(record=True) as caught:
        from google.cloud.logging_v2.handlers import StructuredLogHandler
    handler = _owned(StructuredLogHandler(project_id=project_id, stream=stream or _Std("stdout")), redactor)
    for held in caught:
        text = warnings.formatwarning(held.message, held.category, held.filename, held.lineno).strip()
        handler.handle(logging.LogRecord("py.warnings", logging.WARNING, held.filename, held.lineno, text, None, None))
    return handler


def gunicorn_logconfig(structured: bool, redactor: Redactor) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its lines as the app's JSON when `structured`, else {} (its own text)."""
    if not structured:
        return {}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": ["bridge"]},
        "handlers": {"bridge": {"()": _json_handler, "redactor": redactor}},
        "loggers": {
            # No handler of their own: the root's, which in the worker is the app's (with its redactor).
            # gunicorn.error keeps the level gunicorn gave it (--log-level).
            "gunicorn.error": {"handlers": [], "propagate": True},
            # An access line per request would repeat Cloud Run's request log: off (INFO here turns it on, as JSON).
            "gunicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def structured_wanted(use_cloud_logging: bool, cloud_run_service: str | None) -> bool:
    """JSON lines on Cloud Run (K_SERVICE set), or when asked for."""
    return use_cloud_logging or bool(cloud_run_service)


class _Std:
    """sys.stdout or sys.stderr as they are at each write (test runners swap them)."""

    def __init__(self, name: str):
        self._name = name

    def write(self, text: str) -> int:
        return getattr(sys, self._name).write(text)

    def flush(self) -> None:
        getattr(sys, self._name).flush()


_TEXT = logging.Formatter(
    "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(alert_id)s] %(event)s: %(message)s"
)
