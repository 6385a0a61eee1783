"""Split a :class:`SourceDocument` into section-aware chunks, and passages into sentences.

Invariant for every chunk: ``doc.text[chunk.start:chunk.end] == chunk.text``; chunks are
non-empty, carry no surrounding whitespace and come in order of ``start``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.models import Chunk, Section, SourceDocument

# Part of the index fingerprint: bump whenever chunk boundaries can change.
CHUNKER_VERSION = "1"

# A section with less text than this is merged into the following one (or, when it is
# the last, into the previous one) so a heading and a one-liner do not become chunks of
# their own.
MIN_SECTION_CHARS = 200

_SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]


@dataclass
class _Span:
    start: int
    end: int


def chunk_document(
    doc: SourceDocument, doc_id: str, chunk_size: int = 1000, chunk_overlap: int = 150
) -> list[Chunk]:
    """Cut a document into overlapping chunks that never cross a section boundary.

    Each section is split on its own with LangChain's ``RecursiveCharacterTextSplitter``;
    sections shorter than ``MIN_SECTION_CHARS`` are merged into their neighbour first, and
    a chunk holding nothing but heading text is merged into the chunk next to it.

    Args:
        doc: The loaded document.
        doc_id: Id of the stored document; prefix of every ``chunk_id``.
        chunk_size: Maximum chunk length in characters (a merged heading may add a little).
        chunk_overlap: Characters shared by consecutive chunks of one section.

    Returns:
        The chunks in document order; ``chunk_id`` is
        ``f"{doc_id}:{doc.content_hash[:12]}:{index:05d}"``.

    Raises:
        ValueError: ``chunk_size`` is not positive or ``chunk_overlap`` is not in
            ``[0, chunk_size)``.
    """
    if chunk_size <= 0 or not 0 <= chunk_overlap < chunk_size:
        raise ValueError(
            f"need chunk_size > 0 and 0 <= chunk_overlap < chunk_size (got {chunk_size}, {chunk_overlap})"
        )
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=_SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )
    sections = _sections_or_whole(doc)
    spans: list[_Span] = []
    for unit in _merge_small_sections(doc.text, sections):
        pieces = _split_unit(doc.text, unit, splitter, chunk_overlap)
        spans.extend(_absorb_heading_only(doc.text, pieces, sections))
    starts = [s.start for s in sections]
    prefix = f"{doc_id}:{doc.content_hash[:12]}"
    return [
        Chunk(
            chunk_id=f"{prefix}:{index:05d}",
            doc_id=doc_id,
            index=index,
            start=span.start,
            end=span.end,
            section=_section_at(sections, starts, span.start),
            text=doc.text[span.start : span.end],
        )
        for index, span in enumerate(spans)
    ]


def _sections_or_whole(doc: SourceDocument) -> list[Section]:
    """The document's sections made contiguous over the whole text.

    Loaders already produce contiguous sections; this only guarantees that no text is
    left out of every chunk if a document arrives with gaps (or without sections).
    """
    ordered = sorted((s for s in doc.sections if s.start < len(doc.text)), key=lambda s: s.start)
    if not ordered or ordered[0].start > 0:
        ordered.insert(0, Section(title=None, start=0, end=0, level=0))
    return [
        section.model_copy(update={"end": ordered[i + 1].start if i + 1 < len(ordered) else len(doc.text)})
        for i, section in enumerate(ordered)
        if (ordered[i + 1].start if i + 1 < len(ordered) else len(doc.text)) > section.start
    ]


def _merge_small_sections(text: str, sections: list[Section]) -> list[_Span]:
    """Group consecutive sections until each group holds at least MIN_SECTION_CHARS of text."""
    units: list[_Span] = []
    pending: _Span | None = None
    for section in sections:
        unit = _Span(pending.start if pending else section.start, section.end)
        if len(text[unit.start : unit.end].strip()) < MIN_SECTION_CHARS:
            pending = unit
            continue
        units.append(unit)
        pending = None
    if pending is not None:
        if units:
            units[-1].end = pending.end
        else:
            units.append(pending)
    return units


# Separators with visible characters (". ", "; ", ", "): their occurrences are what the
# splitter's decisions depend on, together with whitespace (which ``strip`` removes).
_VISIBLE_SEPARATORS = re.compile("|".join(re.escape(sep) for sep in _SEPARATORS if sep.strip()))
# Position-coding alphabet: the code points above the BMP, none of which is whitespace.
_CODE_BASE = 0x10000
_CODE_SPAN = 0x110000 - _CODE_BASE


def _position_coded(body: str) -> str:
    """``body`` with every character the splitter does not look at replaced by its position.

    Same length, same separator occurrences, same whitespace: the splitter cuts it
    exactly where it cuts ``body``, but each returned piece now occurs once (within 1M
    characters), so ``find`` gives its true offset.
    """
    keep = bytearray(len(body))
    for match in _VISIBLE_SEPARATORS.finditer(body):
        keep[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
    return "".join(
        ch if keep[i] or ch.isspace() else chr(_CODE_BASE + i % _CODE_SPAN) for i, ch in enumerate(body)
    )


def _split_unit(
    text: str, unit: _Span, splitter: RecursiveCharacterTextSplitter, overlap: int
) -> list[_Span]:
    """Split one unit and locate each piece in the document exactly.

    ``split_text`` returns substrings but no offsets, and searching for them in the
    text (LangChain's own ``add_start_index`` does) lands on an earlier repeat when the
    text repeats itself within a chunk's reach (rules of dots or dashes, repeated table
    rows), leaving text out of every chunk. Splitting a position-coded copy of the text
    instead makes each piece unique, so its offset is exact.
    """
    body = text[unit.start : unit.end]
    coded = _position_coded(body)
    spans: list[_Span] = []
    for piece in splitter.split_text(coded):
        if spans:
            prev_start, prev_end = spans[-1].start - unit.start, spans[-1].end - unit.start
            found = _find_after(coded, piece, max(prev_start, prev_end - overlap), prev_end)
        else:
            found = coded.find(piece)
        if found < 0:  # cannot happen: every piece is a substring after the previous one
            continue
        span = _Span(unit.start + found, unit.start + found + len(piece))
        if spans and (span.start, span.end) == (spans[-1].start, spans[-1].end):
            continue
        spans.append(span)
    return spans


def _find_after(coded: str, piece: str, lower: int, prev_end: int) -> int:
    """Offset of ``piece`` at or after ``lower``, preferring one that reaches past ``prev_end``.

    Position-coded pieces occur once, so this is only a choice for pieces made of
    separators and whitespace alone ('. , '): the splitter never carries more than the
    overlap into the next chunk (hence ``lower``), and a chunk normally adds text past
    the previous chunk's end.
    """
    first = coded.find(piece, lower)
    found = first
    while found >= 0 and found + len(piece) <= prev_end:
        found = coded.find(piece, found + 1)
    return found if found >= 0 else first


def _absorb_heading_only(text: str, spans: list[_Span], sections: list[Section]) -> list[_Span]:
    """Merge chunks made only of heading lines into the next chunk (or the previous one)."""
    result: list[_Span] = []
    carry: _Span | None = None
    for piece in spans:
        span = piece if carry is None else _Span(carry.start, max(carry.end, piece.end))
        carry = None
        if _is_heading_only(text, span, sections):
            carry = span
            continue
        result.append(span)
    if carry is not None:
        if result:
            result[-1] = _Span(result[-1].start, max(result[-1].end, carry.end))
        else:
            result.append(carry)  # the whole document is headings: keep it rather than drop it
    return result


def _is_heading_only(text: str, span: _Span, sections: list[Section]) -> bool:
    """True when the span holds nothing but the titles of sections starting inside it."""
    rest = text[span.start : span.end]
    titles = [s.title for s in sections if s.title and span.start <= s.start < span.end]
    if not titles:
        return False
    for title in titles:
        rest = rest.replace(title, "", 1)
    return not re.search(r"[^\W_]", rest)


def _section_at(sections: list[Section], starts: list[int], offset: int) -> str | None:
    """Title of the section the offset falls in."""
    i = bisect.bisect_right(starts, offset) - 1
    return sections[i].title if i >= 0 else None


# --------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------
#
# A regex splitter rather than pysbd: pysbd is not a project dependency (unmaintained
# since 2021), and when measured on this project's cases (pysbd 0.3.4, char_span=True)
# it split "Approx. 25 μg at birth." after "Approx." and kept a heading glued to the
# blank line after it. The rules clinical text needs are few and are tested in
# tests/ingest/test_chunking.py: no split inside decimals, after listed abbreviations
# or initials; every line break between a bullet item or heading and its neighbour is a
# boundary; reference markers after the full stop stay with their sentence.

_ABBREVIATIONS = frozenset(
    """e.g i.e et al dr drs mr mrs ms prof st vs v cf ca approx fig figs no nos ref refs eq eqs vol pp p
    resp viz sr jr inc ltd co dept univ incl esp ed eds sec tab suppl ch nr mt ave""".split()
)
_BOUNDARY = re.compile(
    r"[.!?]+"  # terminator(s)
    r"['\"’”)\]»]*"  # closing quotes or brackets
    r"(?:\s*(?:\[\d+(?:\s*[,;–-]\s*\d+)*\]|\(\d+(?:\s*[,;–-]\s*\d+)*\)))*"  # reference markers: [14], (3,4)
    r"(?=\s+[\"'“‘]?(\w))"  # whitespace, then (checked in code) what starts the next sentence
)
_LIST_OR_HEADING = re.compile(
    r"^(?:[-*•◦▪‣·–—●○■□➢►✓]\s|\d{1,3}[.)]\s|\(?[a-zA-Z]\)\s|#{1,6}\s|[IVXLC]{1,6}\.\s)"
)
_LINE_END = re.compile(r"[.!?:;]['\"’”)\]]*$")


def split_sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of a chunk or passage, as absolute offsets.

    Robust for clinical text: no split in decimals (``0.3 μg``), after abbreviations
    (``e.g.``, ``i.e.``, ``et al.``, ``Dr.``, ``vs.``, ``approx.``, ``Fig.``) or initials
    (``J. Smith``); each bullet item or heading line is its own sentence; reference
    markers such as ``[14]`` or ``(3)`` after a full stop stay with that sentence. A line
    break is a boundary unless it merely wraps a sentence (the line does not end a
    sentence and the next one starts in lower case).

    Args:
        text: The passage text.
        start: Offset of ``text`` in its document, added to every span.

    Returns:
        ``(begin, end)`` pairs in order, stripped of surrounding whitespace, non-empty.
    """
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _line_blocks(text):
        cut = block_start
        for match in _BOUNDARY.finditer(text, block_start, block_end):
            first = match.group(1)
            if not (first.isupper() or first.isdigit()) or _is_false_boundary(
                text, block_start, match.start()
            ):
                continue
            _append_stripped(text, cut, match.end(), start, spans)
            cut = match.end()
        _append_stripped(text, cut, block_end, start, spans)
    return spans


def _line_blocks(text: str) -> list[tuple[int, int]]:
    """Runs of lines that belong together; a wrapped sentence keeps its lines in one run."""
    blocks: list[tuple[int, int]] = []
    pos = 0
    block_start = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        end = pos + len(line)
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if not _continues_on_next_line(line.strip(), nxt):
            blocks.append((block_start, end))
            block_start = end + 1
        pos = end + 1
    return blocks


def _continues_on_next_line(line: str, nxt: str) -> bool:
    return bool(
        line and nxt and nxt[0].islower() and not _LINE_END.search(line) and not _LIST_OR_HEADING.match(nxt)
    )


def _is_false_boundary(text: str, block_start: int, stop: int) -> bool:
    """True when the full stop at ``stop`` ends an abbreviation, an initial or a list number."""
    if text[stop] != ".":
        return False
    token_start = stop
    while token_start > block_start and not text[token_start - 1].isspace():
        token_start -= 1
    token = text[token_start:stop].lstrip("([{\"'“‘")
    if not token:
        return False
    lowered = token.lower()
    if lowered in _ABBREVIATIONS or lowered.endswith(("e.g", "i.e")):
        return True
    if len(token) == 1 and token.isalpha() and token.isupper():
        return True  # an initial: "J. Smith"
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token):
        return True  # dotted abbreviation: "U.S.", "a.m."
    # "1." or "II." opening a line is list or heading numbering, not a sentence.
    opening = text[block_start:token_start].strip() == ""
    return opening and bool(re.fullmatch(r"\d{1,3}|[IVXLC]{1,6}", token))


def _append_stripped(text: str, begin: int, end: int, offset: int, spans: list[tuple[int, int]]) -> None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    if end > begin:
        spans.append((offset + begin, offset + end))
