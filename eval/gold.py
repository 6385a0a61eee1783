"""Reading and validating gold files (JSON Lines, one question a line)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from eval.models import GoldItem
from ingest.errors import UsageError


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "invalid"))
    return f"{where}: {msg}" if where else msg


def parse_gold_lines(lines: list[str], name: str = "<gold>") -> list[GoldItem]:
    """Validate gold lines; the first bad line is a :class:`UsageError` naming ``name:line``.

    Blank lines are skipped; ids must be unique.
    """
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise UsageError(f"{name}:{n}: expected a JSON object, got {type(obj).__name__}")
        try:
            item = GoldItem.model_validate(obj)
        except ValidationError as exc:
            raise UsageError(f"{name}:{n}: invalid gold line ({_first_error(exc)})") from exc
        if item.id in seen:
            raise UsageError(f"{name}:{n}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise UsageError(f"{name}: the gold file holds no questions")
    return items


def load_gold(path: Path) -> tuple[list[GoldItem], str]:
    """The gold items of ``path`` and the sha256 of its bytes.

    Raises:
        UsageError: unreadable file, or a malformed line (the message names the line).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read gold file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_gold_lines(text.splitlines(), str(path)), hashlib.sha256(raw).hexdigest()
