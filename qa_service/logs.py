"""JSON log lines for services: one object per line, with the current request id.

The HTTP layer sets :data:`request_id_var` for the duration of a request (the
value travels into worker threads with the context), so every line logged while
serving it, by any module, carries the same ``request_id``. Extra fields passed
with ``logger.info("...", extra={...})`` become keys of the JSON object.

Nothing here decides *what* is logged: callers must not pass question text or
document content at INFO (it can hold patient data; it lives in the audit log).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("medcite_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn adds an ANSI-coloured copy of the message
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, ``request_id``, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single JSON line (never raises on odd extra values)."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            data["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)
