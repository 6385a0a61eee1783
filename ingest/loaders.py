"""Turn one file (.txt .md .html .htm .pdf .docx) into a normalised :class:`SourceDocument`.

Every format goes through the same :func:`normalise_text`, and sections are always
expressed as offsets into the *final* normalised text:

* txt, md and pdf are normalised first and headings are then detected on the lines
  of the normalised text, so their offsets are exact by construction;
* html and docx know their headings structurally; the extractor wraps each heading
  in private-use marker characters, the whole text is normalised, and the markers are
  then removed while their positions are recorded (see :func:`_resolve_markers`).

Any failure is raised as :class:`~ingest.errors.LoaderError` with a message a person
understands; no library exception escapes :func:`load_document`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import LoaderError
from ingest.models import Section, SourceDocument

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".pdf", ".docx"})

_FORMAT_BY_SUFFIX: dict[str, str] = {
    ".txt": "txt",
    ".md": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

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


def _one_line(text: str) -> str:
    """Normalise a title or heading to a single line."""
    return normalise_text(text).replace("\n", " ")


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Heading:
    """A heading found in the final text: its line starts at ``start``."""

    start: int
    title: str
    level: int


def _build_sections(text: str, headings: list[_Heading]) -> list[Section]:
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
class _Line:
    start: int
    text: str


def _lines(text: str) -> list[_Line]:
    """The lines of ``text`` with their start offsets."""
    lines: list[_Line] = []
    pos = 0
    for line in text.split("\n"):
        lines.append(_Line(pos, line))
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


def _strip_markers(text: str) -> str:
    """Remove marker characters from source text so that only ours remain."""
    return text.translate(_MARKER_CHARS)


def _mark_heading(title: str, level: int) -> str:
    """A heading as a marked paragraph of its own (empty when the title is blank)."""
    title = _one_line(_strip_markers(title))
    if not title:
        return ""
    level = max(0, min(level, 9))
    return f"\n\n{_MARK_START}{chr(_MARK_LEVEL0 + level)}{title}{_MARK_END}\n\n"


def _resolve_markers(marked: str) -> tuple[str, list[_Heading]]:
    """Normalise marked text, then drop the markers and record where each heading starts.

    The marked title was already normalised to one line and is surrounded by blank
    lines, so removing the markers leaves a text that is itself normalised.
    """
    normalised = normalise_text(marked)
    parts: list[str] = []
    headings: list[_Heading] = []
    length = 0
    pos = 0
    for match in _MARKER.finditer(normalised):
        before = normalised[pos : match.start()]
        parts.append(before)
        length += len(before)
        title = match.group(2)
        headings.append(_Heading(start=length, title=title, level=ord(match.group(1)) - _MARK_LEVEL0))
        parts.append(title)
        length += len(title)
        pos = match.end()
    parts.append(normalised[pos:])
    return "".join(parts), headings


# --------------------------------------------------------------------------------------
# Heading detection in plain text (txt and pdf)
# --------------------------------------------------------------------------------------

_MAX_HEADING_CHARS = 80
_MAX_HEADING_WORDS = 10
# Sentence-case lines ("Case report") are accepted only when this short: longer ones
# are far more often stray sentence fragments than headings.
_MAX_SENTENCE_CASE_WORDS = 4
_BULLET = re.compile(r"^(?:[-*•◦▪‣·–—●○■□➢►✓]\s|\d{1,3}\)\s|\(?[a-zA-Z]\)\s)")
_NUMBERED = re.compile(
    r"^(?P<num>\d{1,2}(?:\.\d{1,2})*\.|\d{1,2}(?:\.\d{1,2})+|[IVXLC]{1,6}\.)\s+(?P<rest>\S.*)$"
)
_LABEL = re.compile(r"^(?P<label>[^\W\d_][\w '&/()-]{0,48}?)\s?:(?:\s+(?P<rest>\S.*))?$")
_SENTENCE_END = re.compile(r"[.!?:]['\"’”)\]]*(?:\s*(?:\[[\d,;\s–-]+\]|\(\d+(?:\s*[,;–-]\s*\d+)*\)))*$")
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
    match = _NUMBERED.match(line)
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
    if _BULLET.match(line):
        return None
    numbered = _NUMBERED.match(line)
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


def _detect_plain_headings(text: str) -> list[_Heading]:
    """Headings people write in plain text: numbered, Title Case / ALL CAPS lines, 'LABEL:'.

    Conservative on context as well as shape: the line must start a paragraph (first
    line, after a blank line, a finished sentence, a bullet item or another heading), be
    followed by more text, and not sit inside a numbered list.
    """
    lines = _lines(text)
    headings: list[_Heading] = []
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
        headings.append(_Heading(start=line.start, title=candidate.title, level=level))
    return headings


def _starts_paragraph(lines: list[_Line], i: int, accepted: set[int]) -> bool:
    if i == 0 or not lines[i - 1].text or (i - 1) in accepted:
        return True
    prev = lines[i - 1].text
    return bool(_SENTENCE_END.search(prev)) or bool(_BULLET.match(prev))


def _next_nonblank(lines: list[_Line], i: int) -> int | None:
    for j in range(i + 1, len(lines)):
        if lines[j].text:
            return j
    return None


def _in_numbered_list(lines: list[_Line], i: int, nxt: int, depth: int, accepted: set[int]) -> bool:
    """True when a neighbouring line is a numbered item of the same depth ('1. x' / '2. y')."""
    if _numbered_depth(lines[nxt].text) == depth:
        return True
    prev = next((j for j in range(i - 1, -1, -1) if lines[j].text), None)
    return prev is not None and prev not in accepted and _numbered_depth(lines[prev].text) == depth


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _decode_text(raw: bytes) -> str:
    """UTF-8 (BOM tolerated) first; otherwise charset-normalizer's guess, see :func:`_guess_decoding`."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _guess_decoding(raw)


# How much lower charset-normalizer's coherence score for cp1252 may be than its best
# guess while cp1252 is still preferred (see _guess_decoding).
_CP1252_COHERENCE_SLACK = 0.03


def _guess_decoding(raw: bytes) -> str:
    """charset-normalizer's best match, with a tie-break towards Windows-1252.

    Measured with charset-normalizer 3.5 on short cp1252 clinical sentences: ``best()``
    returned iso8859_16 for "café à 5 µg par jour ..." (µ became ”), cp1250 for
    "... cobalamine à l'hôpital ..." (à became ŕ) and cp1006 for "café à 5 µg", while
    scoring cp1252 as clean and (nearly) as coherent. Legacy Western text is by far the
    most common non-UTF-8 input, so cp1252 wins when it is as clean as the best guess
    (no more chaos, no more stray symbols glued to letters) and within
    ``_CP1252_COHERENCE_SLACK`` of its coherence. Polish and Czech cp1250 text keeps
    cp1250: cp1252 scores lower there or is not a candidate.
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        raise LoaderError("cannot decode text: unknown character encoding")
    chosen = best
    western = next((m for m in matches if m.encoding == "cp1252"), None)
    if (
        western is not None
        and western is not best
        and western.chaos <= best.chaos
        and western.coherence >= best.coherence - _CP1252_COHERENCE_SLACK
        and _glued_symbols(str(western)) <= _glued_symbols(str(best))
    ):
        chosen = western
    logger.debug("decoded as %s (charset-normalizer best: %s)", chosen.encoding, best.encoding)
    return str(chosen)


def _glued_symbols(text: str) -> int:
    """Non-ASCII symbols (not letters, digits or spaces) touching a letter: typical mojibake."""
    count = 0
    for i, ch in enumerate(text):
        if ch.isascii() or unicodedata.category(ch)[0] in "LNZ":
            continue
        if (i > 0 and text[i - 1].isalpha()) or (i + 1 < len(text) and text[i + 1].isalpha()):
            count += 1
    return count


# --------------------------------------------------------------------------------------
# Per-format extraction
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Extracted:
    text: str
    headings: list[_Heading]
    title: str | None = None


def _extract_txt(raw: bytes) -> _Extracted:
    text = normalise_text(_decode_text(raw))
    return _Extracted(text=text, headings=_detect_plain_headings(text))


_FENCE = re.compile(r"^(`{3,}|~{3,})")
_ATX = re.compile(r"^(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^(=+|-+)$")
_MD_LIST_ITEM = re.compile(r"^(?:[-*+]\s|\d{1,9}[.)]\s|>)")


def _extract_md(raw: bytes) -> _Extracted:
    text = normalise_text(_decode_text(raw))
    headings = _detect_md_headings(text)
    title = next((h.title for h in headings if h.level == 1), None)
    return _Extracted(text=text, headings=headings, title=title)


def _detect_md_headings(text: str) -> list[_Heading]:
    """ATX and setext headings, ignoring everything inside fenced code blocks."""
    lines = _lines(text)
    headings: list[_Heading] = []
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
                headings.append(_Heading(start=line.start, title=title, level=len(atx.group(1))))
            continue
        if _is_setext_text(lines, i):
            underline = lines[i + 1].text
            headings.append(
                _Heading(start=line.start, title=line.text, level=1 if underline[0] == "=" else 2)
            )
    return headings


def _is_setext_text(lines: list[_Line], i: int) -> bool:
    """A one-line paragraph directly underlined with '===' or '---'."""
    if i + 1 >= len(lines) or not lines[i].text or not _SETEXT.match(lines[i + 1].text):
        return False
    if _MD_LIST_ITEM.match(lines[i].text) or _ATX.match(lines[i].text) or _FENCE.match(lines[i].text):
        return False
    return i == 0 or not lines[i - 1].text


# HTML ---------------------------------------------------------------------------------

_HTML_DROP = (
    "script",
    "style",
    "noscript",
    "nav",
    "aside",
    "form",
    "svg",
    "template",
    "iframe",
    "button",
    "select",
    "canvas",
    "object",
    "embed",
    "noembed",
    "head",
)
# Site-wide banners; a <header>/<footer> inside <article> or <main> belongs to the content
# (it usually holds the article's own <h1>), so only the others are dropped.
_HTML_DROP_OUTSIDE_CONTENT = ("header", "footer")
_HTML_PARAGRAPH = frozenset(
    "p blockquote pre table ul ol dl figure section article main hr address details fieldset center".split()
)
_HTML_LINE = frozenset("div tr li dt dd caption figcaption summary legend thead tbody tfoot".split())
_HTML_CELLS = frozenset({"td", "th"})
_HTML_HEADING = re.compile(r"^h([1-6])$")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def _extract_html(raw: bytes) -> _Extracted:
    from selectolax.lexbor import LexborHTMLParser

    try:
        tree = LexborHTMLParser(_decode_text(raw))
    except LoaderError:
        raise
    except Exception as exc:  # selectolax raises plain errors on inputs it cannot parse
        raise LoaderError(f"not a valid HTML file: {exc}") from exc
    title_node = tree.css_first("title")
    page_title = _one_line(title_node.text()) if title_node is not None else ""
    for tag in _HTML_DROP_OUTSIDE_CONTENT:
        for node in tree.css(tag):
            if not _has_ancestor(node, ("article", "main")):
                node.decompose()
    tree.strip_tags(list(_HTML_DROP), recursive=True)
    root = tree.body if tree.body is not None else tree.root
    marked = _html_marked_text(root) if root is not None else ""
    text, headings = _resolve_markers(marked)
    title = page_title or next((h.title for h in headings if h.level == 1), None)
    return _Extracted(text=text, headings=headings, title=title or None)


def _has_ancestor(node: object, tags: tuple[str, ...]) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


class _HtmlTextBuilder:
    """Collects text with block breaks that collapse: a run of breaks keeps the strongest.

    Whitespace between blocks (source indentation) is dropped, so ``</li>\n  <li>``
    gives one line break and ``</p> <p>`` one blank line.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._pending = 0  # newlines owed before the next visible text

    def brk(self, newlines: int) -> None:
        if self.parts:
            self._pending = max(self._pending, newlines)

    def text(self, text: str) -> None:
        if self._pending:
            if not text.strip():
                return
            self.parts.append("\n" * self._pending)
            self._pending = 0
            text = text.lstrip()
        self.parts.append(text)

    def hard_break(self) -> None:
        """A <br>: a line break that does not merge with the one before it."""
        if not self._pending:
            self.parts.append("\n")

    def take_from(self, index: int) -> str:
        """Remove and return everything collected since ``len(parts) == index``."""
        taken = "".join(self.parts[index:])
        del self.parts[index:]
        self._pending = 0
        return taken


def _html_marked_text(root: object) -> str:
    """Block structure of an HTML subtree as text, headings wrapped in markers.

    Iterative (explicit stack) so deeply nested pages cannot hit the recursion limit.
    """
    out = _HtmlTextBuilder()
    heading_starts: list[int] = []
    pre_depth = 0
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag  # type: ignore[attr-defined]
        if leaving:
            if tag == "pre":
                pre_depth -= 1
            heading = _HTML_HEADING.match(tag)
            if heading:
                title = out.take_from(heading_starts.pop())
                marked = _mark_heading(title, int(heading.group(1))).strip("\n")
                if marked:
                    out.brk(2)
                    out.text(marked)
                out.brk(2)
            elif tag in _HTML_PARAGRAPH:
                out.brk(2)
            elif tag in _HTML_LINE:
                out.brk(1)
            continue
        if tag == "-text":
            content = _strip_markers(node.text_content or "")  # type: ignore[attr-defined]
            out.text(content if pre_depth else _HTML_SPACE.sub(" ", content))
            continue
        if tag.startswith("-"):  # comments, doctype
            continue
        _html_open(out, node, tag)
        if tag == "pre":
            pre_depth += 1
        if _HTML_HEADING.match(tag):
            out.brk(2)
            heading_starts.append(len(out.parts))
        stack.append((node, True))
        children = list(node.iter(include_text=True))  # type: ignore[attr-defined]
        stack.extend((child, False) for child in reversed(children))
    return "".join(out.parts)


def _html_open(out: _HtmlTextBuilder, node: object, tag: str) -> None:
    """What an element contributes before its content."""
    if tag == "br":
        out.hard_break()
    elif tag == "li":
        out.brk(1)
        out.text("- ")
    elif tag in _HTML_CELLS:
        prev = node.prev  # type: ignore[attr-defined]
        while prev is not None and prev.tag in ("-text", "-comment"):
            prev = prev.prev
        if prev is not None and prev.tag in _HTML_CELLS:
            out.text(" | ")
    elif tag in _HTML_PARAGRAPH:
        out.brk(2)
    elif tag in _HTML_LINE:
        out.brk(1)


# PDF ----------------------------------------------------------------------------------

_PDF_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad *\n *")
_PDF_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])[-\u2010]\n(?=[a-z])")
# A line shorter than this share of the page's typical full line ends a paragraph or is
# a heading: body lines of a justified/ragged page are close to the full width.
_PDF_SHORT_LINE_RATIO = 0.6


def _extract_pdf(raw: bytes) -> _Extracted:
    page_texts, meta_title = _read_pdf(raw)
    if not any(page.strip() for page in page_texts):
        raise LoaderError("PDF has no text layer; OCR is not supported (scanned or image-only pages)")
    text = normalise_text("\n\n".join(_join_pdf_lines(page) for page in page_texts))
    title = _one_line(meta_title) if meta_title else ""
    return _Extracted(text=text, headings=_detect_plain_headings(text), title=title or None)


def _read_pdf(raw: bytes) -> tuple[list[str], str | None]:
    """Text of each page and the metadata title; errors become LoaderError."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not _pdf_decrypt(reader):
            raise LoaderError("PDF is password-protected")
        pages = list(reader.pages)
        metadata = reader.metadata
        meta_title = metadata.title if metadata is not None else None
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many unrelated types on broken files
        raise LoaderError(f"not a valid PDF file: {_describe(exc)}") from exc
    if not pages:
        raise LoaderError("PDF has no pages")
    texts: list[str] = []
    failures = 0
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(page.extract_text() or "")
        except Exception as exc:  # one broken content stream should not lose the whole file
            failures += 1
            logger.warning("PDF page %d: text extraction failed: %s", number, _describe(exc))
            texts.append("")
    if failures == len(pages):
        raise LoaderError("not a valid PDF file: text extraction failed on every page")
    return texts, str(meta_title) if meta_title else None


def _pdf_decrypt(reader: object) -> bool:
    """Open PDFs that are encrypted with an empty user password (common for 'protected' files)."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception as exc:
        raise LoaderError(f"PDF is encrypted and cannot be opened: {_describe(exc)}") from exc


def _join_pdf_lines(page_text: str) -> str:
    """Undo the hard line breaks of PDF extraction within paragraphs.

    A break is kept where a line ends a sentence, where the next line is a bullet or a
    numbered heading, or where the line is clearly shorter than the page's full lines
    (a heading or a paragraph's last line); otherwise the lines are joined with a space.
    Words hyphenated across a line break are rejoined first.
    """
    page_text = _PDF_SOFT_HYPHEN_BREAK.sub("", page_text.replace("\r\n", "\n").replace("\r", "\n"))
    page_text = normalise_text(page_text)
    page_text = _PDF_HYPHEN_BREAK.sub("", page_text)
    lines = page_text.split("\n")
    full = _typical_full_width(lines)
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i + 1 < len(lines):
            out.append("\n" if _keep_pdf_break(line, lines[i + 1], full) else " ")
    return "".join(out)


def _typical_full_width(lines: list[str]) -> int:
    lengths = sorted(len(line) for line in lines if line)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def _keep_pdf_break(line: str, nxt: str, full_width: int) -> bool:
    if not line or not nxt:
        return True
    if _BULLET.match(nxt) or _NUMBERED.match(nxt):
        return True
    if _SENTENCE_END.search(line):
        return True
    if nxt[0].islower():
        return False
    return len(line) < _PDF_SHORT_LINE_RATIO * full_width


# DOCX ---------------------------------------------------------------------------------

_DOCX_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _extract_docx(raw: bytes) -> _Extracted:
    import docx

    try:
        document = docx.Document(io.BytesIO(raw))
        blocks = list(_docx_blocks(document))
        core_title = document.core_properties.title or ""
    except Exception as exc:  # python-docx raises zip, XML and key errors on broken files
        raise LoaderError(f"not a valid DOCX file ({_describe(exc)})") from exc
    marked = _join_docx_blocks(blocks)
    text, headings = _resolve_markers(marked)
    title = _one_line(core_title) or next((h.title for h in headings if h.level == 0), "")
    return _Extracted(text=text, headings=headings, title=title or None)


@dataclass(frozen=True)
class _Block:
    kind: str  # "heading", "list", "paragraph", "table"
    text: str


def _docx_blocks(document: object) -> Iterator[_Block]:
    """Paragraphs and tables of the body, in document order."""
    from docx.table import Table

    for item in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Table):
            rows = [_docx_row(row) for row in item.rows]
            rows = [row for row in rows if row]
            if rows:
                yield _Block("table", "\n".join(rows))
            continue
        text = _strip_markers(item.text)
        if not text.strip():
            continue
        style = item.style.name if item.style is not None else ""
        level = _docx_heading_level(style or "")
        if level is not None:
            yield _Block("heading", _mark_heading(text, level))
        elif "list" in (style or "").lower():
            yield _Block("list", "- " + text)
        else:
            yield _Block("paragraph", text)


def _docx_heading_level(style: str) -> int | None:
    """'Title' -> 0, 'Heading n' -> n, anything else -> None."""
    if style.lower() == "title":
        return 0
    match = _DOCX_HEADING_STYLE.match(style)
    return int(match.group(1)) if match else None


def _docx_row(row: object) -> str:
    """Cells of a row joined by ' | '; a merged cell appears once."""
    cells: list[str] = []
    previous = None
    for cell in row.cells:  # type: ignore[attr-defined]
        if previous is not None and cell._tc is previous:
            continue
        previous = cell._tc
        cells.append(_one_line(_strip_markers(cell.text)))
    return " | ".join(cells) if any(cells) else ""


def _join_docx_blocks(blocks: list[_Block]) -> str:
    """List items one per line; every other block is its own paragraph."""
    parts: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            parts.append("\n" if block.kind == "list" and blocks[i - 1].kind == "list" else "\n\n")
        parts.append(block.text)
    return "".join(parts)


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------

_EXTRACTORS: dict[str, Callable[[bytes], _Extracted]] = {
    "txt": _extract_txt,
    "md": _extract_md,
    "html": _extract_html,
    "pdf": _extract_pdf,
    "docx": _extract_docx,
}


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message if message else type(exc).__name__


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LoaderError("file not found") from exc
    except IsADirectoryError as exc:
        raise LoaderError("is a directory, not a file") from exc
    except PermissionError as exc:
        raise LoaderError("cannot read file: permission denied") from exc
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or _describe(exc)}") from exc


def load_document(path: Path, source: str) -> SourceDocument:
    """Read one file and turn it into a normalised document with sections.

    Args:
        path: The file to read; its suffix (case-insensitive) picks the loader.
        source: Name to record for the file (path relative to the ingested folder).

    Returns:
        The document: normalised ``text``, ``sections`` as offsets into it, ``title``
        when the format gives one, and ``content_hash`` (sha256 of the raw bytes).

    Raises:
        LoaderError: Unsupported type, unreadable, empty, corrupt or text-less file; the
            message says why in plain words.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = _FORMAT_BY_SUFFIX.get(suffix)
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise LoaderError(f"unsupported file type {shown} (supported: {supported})")
    raw = _read_bytes(path)
    if not raw:
        raise LoaderError("file is empty")
    try:
        extracted = _EXTRACTORS[fmt](raw)
    except LoaderError:
        raise
    except Exception as exc:  # last line of defence: no library exception escapes
        logger.debug("unexpected %s loader failure", fmt, exc_info=True)
        raise LoaderError(f"cannot read {fmt.upper()} file: {_describe(exc)}") from exc
    if not extracted.text:
        raise LoaderError("no text found")
    logger.debug("loaded %s: %d chars, %d headings", source, len(extracted.text), len(extracted.headings))
    return SourceDocument(
        source=source,
        path=str(path.resolve()),
        title=extracted.title,
        format=fmt,
        text=extracted.text,
        sections=_build_sections(extracted.text, extracted.headings),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
