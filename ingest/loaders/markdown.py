"""Markdown (.md): ATX and setext headings, fenced code ignored; the text is kept as written."""

from __future__ import annotations

import re

from ingest.loaders.common import Extracted, Heading, Line, normalise_text, text_lines
from ingest.loaders.decoding import decode_text
from ingest.loaders.limits import check_unpacked
from ingest.settings import IngestLimits

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_ATX = re.compile(r"^(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^(=+|-+)$")
_MD_LIST_ITEM = re.compile(r"^(?:[-*+]\s|\d{1,9}[.)]\s|>)")


def extract(raw: bytes, limits: IngestLimits) -> Extracted:
    check_unpacked(len(raw), "Markdown file", limits)
    text = normalise_text(decode_text(raw))
    headings = _detect_md_headings(text)
    title = next((h.title for h in headings if h.level == 1), None)
    return Extracted(text=text, headings=headings, title=title)


def _detect_md_headings(text: str) -> list[Heading]:
    """ATX and setext headings, ignoring everything inside fenced code blocks."""
    lines = text_lines(text)
    headings: list[Heading] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        fence_match = _FENCE.match(line.text)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
            ):
                if not line.text[len(fence_match.group(1)) :].strip():
                    fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        atx = _ATX.match(line.text)
        if atx:
            title = (atx.group(2) or "").strip()
            if title:
                headings.append(Heading(start=line.start, title=title, level=len(atx.group(1))))
            continue
        if _is_setext_text(lines, i):
            underline = lines[i + 1].text
            headings.append(Heading(start=line.start, title=line.text, level=1 if underline[0] == "=" else 2))
    return headings


def _is_setext_text(lines: list[Line], i: int) -> bool:
    """A one-line paragraph directly underlined with '===' or '---'."""
    if i + 1 >= len(lines) or not lines[i].text or not _SETEXT.match(lines[i + 1].text):
        return False
    if _MD_LIST_ITEM.match(lines[i].text) or _ATX.match(lines[i].text) or _FENCE.match(lines[i].text):
        return False
    return i == 0 or not lines[i - 1].text
