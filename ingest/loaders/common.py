"""What every format shares: text normalisation, headings, sections and heading markers.

Sections are always offsets into the *final* normalised text:

* txt, md and pdf are normalised first and headings are then detected on the lines
  of the normalised text, so their offsets are exact by construction;
* html and docx know their headings structurally; the extractor wraps each heading
  in private-use marker characters, the whole text is normalised, and the markers are
  then removed while their positions are recorded (see :func:`resolve_markers`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.models import Section

# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

# Invisible characters that only break words apart for search and matching.
_INVISIBLE = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\ufeff"
)
# Characters that act as line breaks; U+2029 separates paragraphs, hence a blank line.
_LINE_BREAKS = {
    "\u2028": "\n",
    "\u2029": "\n\n",
    "\x0b": "\n",
    "\x0c": "\n",
    "\x1c": "\n",
    "\x1d": "\n",
    "\x1e": "\n",
    "\x85": "\n",
}


# Unicode category Zs (space separators) other than ' ' itself; the set is fixed by the
# standard, so listing it beats scanning all 1.1M code points at import time.
_UNICODE_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)


def _build_char_table() -> dict[int, str | None]:
    """Translation table: invisible and control characters out, every Unicode space to ' '."""
    table: dict[int, str | None] = {code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}  # Cc
    del table[0x0A]
    table.update({ord(ch): None for ch in _INVISIBLE})
    table.update({ord(ch): rep for ch, rep in _LINE_BREAKS.items()})
    table.update({ord(ch): " " for ch in _UNICODE_SPACES})
    table[ord("\t")] = " "
    return table


_CHAR_TABLE = _build_char_table()
_SPACE_RUN = re.compile(r" {2,}")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalise_text(text: str) -> str:
    """Normalise text the same way for every format so offsets are stable.

    Unicode NFC; ``\\r\\n``/``\\r`` become ``\\n``; zero-width characters, soft hyphens
    and control characters are removed; tabs, non-breaking and other Unicode spaces
    become ``' '``; runs of spaces collapse to one; lines are stripped; three or more
    newlines collapse to one blank line; the whole text is stripped.

    Leading spaces of a line are stripped too (not only trailing ones): after runs are
    collapsed to one space indentation carries no information, and stripped lines let
    the heading detectors and the chunker treat a whitespace-only line as blank.

    Args:
        text: Raw text.

    Returns:
        The normalised text; ``normalise_text(normalise_text(t)) == normalise_text(t)``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text.translate(_CHAR_TABLE))
    lines = (_SPACE_RUN.sub(" ", line).strip(" ") for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    """Normalise a title or heading to a single line."""
    return normalise_text(text).replace("\n", " ")


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A heading found in the final text: its line starts at ``start``."""

    start: int
    title: str
    level: int


def build_sections(text: str, headings: list[Heading]) -> list[Section]:
    """Contiguous sections: an untitled lead-in (if non-blank), then one per heading."""
    sections: list[Section] = []
    ordered = sorted(headings, key=lambda h: h.start)
    first = ordered[0].start if ordered else len(text)
    if text[:first].strip():
        sections.append(Section(title=None, start=0, end=first, level=0))
    for i, heading in enumerate(ordered):
        end = ordered[i + 1].start if i + 1 < len(ordered) else len(text)
        if end > heading.start:
            sections.append(Section(title=heading.title, start=heading.start, end=end, level=heading.level))
    return sections


@dataclass(frozen=True)
class Line:
    start: int
    text: str


def text_lines(text: str) -> list[Line]:
    """The lines of ``text`` with their start offsets."""
    lines: list[Line] = []
    pos = 0
    for line in text.split("\n"):
        lines.append(Line(pos, line))
        pos += len(line) + 1
    return lines


# Marker characters (Unicode private use area) that carry structural headings through
# normalisation: START, LEVEL (START_LEVEL + n), title, END.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
_MARK_LEVEL0 = 0xE010
_MARKER_CHARS = {ord(c): None for c in (_MARK_START, _MARK_END)} | {
    code: None for code in range(_MARK_LEVEL0, _MARK_LEVEL0 + 10)
}
_MARKER = re.compile("\ue000([\ue010-\ue019])([^\ue000\ue001]*)\ue001")


def strip_markers(text: str) -> str:
    """Remove marker characters from source text so that only ours remain."""
    return text.translate(_MARKER_CHARS)


def mark_heading(title: str, level: int) -> str:
    """A heading as a marked paragraph of its own (empty when the title is blank)."""
    title = one_line(strip_markers(title))
    if not title:
        return ""
    level = max(0, min(level, 9))
    return f"\n\n{_MARK_START}{chr(_MARK_LEVEL0 + level)}{title}{_MARK_END}\n\n"


def resolve_markers(marked: str) -> tuple[str, list[Heading]]:
    """Normalise marked text, then drop the markers and record where each heading starts.

    The marked title was already normalised to one line and is surrounded by blank
    lines, so removing the markers leaves a text that is itself normalised.
    """
    normalised = normalise_text(marked)
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0
    pos = 0
    for match in _MARKER.finditer(normalised):
        before = normalised[pos : match.start()]
        parts.append(before)
        length += len(before)
        title = match.group(2)
        headings.append(Heading(start=length, title=title, level=ord(match.group(1)) - _MARK_LEVEL0))
        parts.append(title)
        length += len(title)
        pos = match.end()
    parts.append(normalised[pos:])
    return "".join(parts), headings


@dataclass(frozen=True)
class Extracted:
    """What a format's extractor returns: final text, headings as offsets into it, a title."""

    text: str
    headings: list[Heading]
    title: str | None = None


def describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message if message else type(exc).__name__
