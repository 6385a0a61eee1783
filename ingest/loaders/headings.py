"""Headings people write in plain text (txt and pdf): numbered, Title Case / ALL CAPS lines, 'LABEL:'."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.loaders.common import Heading, Line, text_lines

_MAX_HEADING_CHARS = 80
_MAX_HEADING_WORDS = 10
# Sentence-case lines ("Case report") are accepted only when this short: longer ones
# are far more often stray sentence fragments than headings.
_MAX_SENTENCE_CASE_WORDS = 4
BULLET = re.compile(r"^(?:[-*•◦▪‣·–—●○■□➢►✓]\s|\d{1,3}\)\s|\(?[a-zA-Z]\)\s)")
NUMBERED = re.compile(
    r"^(?P<num>\d{1,2}(?:\.\d{1,2})*\.|\d{1,2}(?:\.\d{1,2})+|[IVXLC]{1,6}\.)\s+(?P<rest>\S.*)$"
)
_LABEL = re.compile(r"^(?P<label>[^\W\d_][\w '&/()-]{0,48}?)\s?:(?:\s+(?P<rest>\S.*))?$")
SENTENCE_END = re.compile(r"[.!?:]['\"’”)\]]*(?:\s*(?:\[[\d,;\s–-]+\]|\(\d+(?:\s*[,;–-]\s*\d+)*\)))*$")
_BAD_HEADING_END = (".", ",", ";", ":", "?", "!")
_MINOR_WORDS = frozenset(
    "a an and as at but by for from in into nor of on or per the to under up upon via vs with within"
    " without".split()
)


def _word_is_capitalised(word: str) -> bool:
    """True for 'Dosing', 'B12', '(Intramuscular)', 'Follow-up', '&'."""
    core = word.strip("()[]{}\"'“”‘’,")
    for ch in core:
        if ch.isalpha():
            return ch.isupper()
        if ch.isdigit():
            return True
    return True


def _is_title_case(words: list[str]) -> bool:
    """Every word except minor ones ('of', 'and', ...) starts with a capital."""
    return all(
        _word_is_capitalised(w) or w.lower() in _MINOR_WORDS for w in words[1:]
    ) and _word_is_capitalised(words[0])


def _is_all_caps(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def _starts_upper(text: str) -> bool:
    return bool(text) and text[0].isalpha() and text[0].isupper()


def _plausible_heading_text(line: str, body: str) -> bool:
    """Shape shared by all heading kinds: short, few words, one phrase, no final punctuation.

    ``body`` is the line without its numbering ('2. ' is not a sentence end).
    """
    return (
        0 < len(line) <= _MAX_HEADING_CHARS
        and len(line.split()) <= _MAX_HEADING_WORDS
        and not line.endswith(_BAD_HEADING_END)
        and "|" not in line
        and not re.search(r"[.?!]\s", body)
    )


def _numbered_depth(line: str) -> int | None:
    """Depth of a numbered line ('2.' -> 1, '3.1' -> 2, 'II.' -> 1), None if not numbered."""
    match = NUMBERED.match(line)
    if not match:
        return None
    num = match.group("num").rstrip(".")
    return num.count(".") + 1 if num[0].isdigit() else 1


@dataclass(frozen=True)
class _Candidate:
    title: str
    numbered_depth: int | None
    inline_body: bool = False  # 'METHODS: We reviewed ...' carries its own text


def _classify_heading_line(line: str) -> _Candidate | None:
    """The heading a line would be, judged on the line alone (context is checked elsewhere)."""
    if BULLET.match(line):
        return None
    numbered = NUMBERED.match(line)
    if numbered:
        rest = numbered.group("rest")
        if _starts_upper(rest) and _plausible_heading_text(line, rest):
            return _Candidate(title=line, numbered_depth=_numbered_depth(line))
        return None
    label = _LABEL.match(line)
    if label:
        name = label.group("label").strip()
        words = name.split()
        if _is_all_caps(name) and len(words) <= 6:
            return _Candidate(title=name, numbered_depth=None, inline_body=label.group("rest") is not None)
        if label.group("rest") is None and _starts_upper(name) and len(words) <= 4 and _is_title_case(words):
            return _Candidate(title=name, numbered_depth=None)
        return None
    if not _starts_upper(line) or not _plausible_heading_text(line, line):
        return None
    words = line.split()
    if _is_all_caps(line) or _is_title_case(words) or len(words) <= _MAX_SENTENCE_CASE_WORDS:
        return _Candidate(title=line, numbered_depth=None)
    return None


def detect_plain_headings(text: str) -> list[Heading]:
    """Headings people write in plain text: numbered, Title Case / ALL CAPS lines, 'LABEL:'.

    Conservative on context as well as shape: the line must start a paragraph (first
    line, after a blank line, a finished sentence, a bullet item or another heading), be
    followed by more text, and not sit inside a numbered list.
    """
    lines = text_lines(text)
    headings: list[Heading] = []
    accepted: set[int] = set()
    last_numbered_level = 0
    for i, line in enumerate(lines):
        if not line.text:
            continue
        candidate = _classify_heading_line(line.text)
        if candidate is None or not _starts_paragraph(lines, i, accepted):
            continue
        nxt = _next_nonblank(lines, i)
        if nxt is None and not candidate.inline_body:
            continue
        if nxt == i + 1 and lines[nxt].text[:1].islower() and not candidate.inline_body:
            continue  # the "heading" is the first line of a wrapped sentence
        if (
            candidate.numbered_depth is not None
            and nxt is not None
            and _in_numbered_list(lines, i, nxt, candidate.numbered_depth, accepted)
        ):
            continue
        if candidate.numbered_depth is not None:
            level = last_numbered_level = candidate.numbered_depth
        else:
            # An unnumbered heading inside a numbered document is a sub-heading.
            level = last_numbered_level + 1
        accepted.add(i)
        headings.append(Heading(start=line.start, title=candidate.title, level=level))
    return headings


def _starts_paragraph(lines: list[Line], i: int, accepted: set[int]) -> bool:
    if i == 0 or not lines[i - 1].text or (i - 1) in accepted:
        return True
    prev = lines[i - 1].text
    return bool(SENTENCE_END.search(prev)) or bool(BULLET.match(prev))


def _next_nonblank(lines: list[Line], i: int) -> int | None:
    for j in range(i + 1, len(lines)):
        if lines[j].text:
            return j
    return None


def _in_numbered_list(lines: list[Line], i: int, nxt: int, depth: int, accepted: set[int]) -> bool:
    """True when a neighbouring line is a numbered item of the same depth ('1. x' / '2. y')."""
    if _numbered_depth(lines[nxt].text) == depth:
        return True
    prev = next((j for j in range(i - 1, -1, -1) if lines[j].text), None)
    return prev is not None and prev not in accepted and _numbered_depth(lines[prev].text) == depth
