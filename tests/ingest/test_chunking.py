"""Chunking: the offset invariant, section awareness, ids; and sentence splitting."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunking import CHUNKER_VERSION, MIN_SECTION_CHARS, chunk_document, split_sentences
from ingest.loaders import load_document, normalise_text
from ingest.models import Chunk, Section, SourceDocument

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.txt"))


def _doc(text: str, sections: list[Section] | None = None) -> SourceDocument:
    return SourceDocument(
        source="t.txt",
        path="/t.txt",
        format="txt",
        text=text,
        sections=sections or [],
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def _sections_at(text: str, heading_starts: list[int]) -> list[Section]:
    """Contiguous sections whose titles are the lines at the given starts."""
    starts = sorted(set(heading_starts))
    sections = []
    if not starts or starts[0] > 0:
        starts_with_lead = [0, *starts]
        titles: list[str | None] = [None] + [text[s:].split("\n", 1)[0] for s in starts]
    else:
        starts_with_lead = starts
        titles = [text[s:].split("\n", 1)[0] for s in starts]
    for i, start in enumerate(starts_with_lead):
        end = starts_with_lead[i + 1] if i + 1 < len(starts_with_lead) else len(text)
        if end > start:
            sections.append(Section(title=titles[i], start=start, end=end))
    return sections


def _assert_chunk_invariants(doc: SourceDocument, chunks: list[Chunk], doc_id: str = "d") -> None:
    previous_start = -1
    for index, chunk in enumerate(chunks):
        assert chunk.text
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.index == index
        assert chunk.doc_id == doc_id
        assert chunk.chunk_id == f"{doc_id}:{doc.content_hash[:12]}:{index:05d}"
        assert chunk.start >= previous_start
        previous_start = chunk.start
    # Every non-blank character of the text is in some chunk.
    covered = [False] * len(doc.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered text at {missing[:5]}"


def _assert_no_cross_section(doc: SourceDocument, chunks: list[Chunk]) -> None:
    """A chunk may span several sections only when they were merged for being small."""
    for chunk in chunks:
        inside = [s for s in doc.sections if chunk.start < s.start < chunk.end]
        for section in inside:
            before = [s for s in doc.sections if s.end <= section.start and s.end > chunk.start]
            assert all(len(doc.text[s.start : s.end].strip()) < MIN_SECTION_CHARS for s in before) or all(
                len(doc.text[s.start : s.end].strip()) < MIN_SECTION_CHARS for s in [section]
            )


# --------------------------------------------------------------------------------------
# chunk_document
# --------------------------------------------------------------------------------------


def test_chunker_version() -> None:
    assert CHUNKER_VERSION == "1"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize(("size", "overlap"), [(1000, 150), (300, 50), (120, 0)])
def test_corpus_chunks_keep_the_invariant(path: Path, size: int, overlap: int) -> None:
    doc = load_document(path, path.name)
    chunks = chunk_document(doc, "doc-1", chunk_size=size, chunk_overlap=overlap)
    assert chunks
    _assert_chunk_invariants(doc, chunks, "doc-1")
    _assert_no_cross_section(doc, chunks)
    titles = {s.title for s in doc.sections}
    for chunk in chunks:
        assert chunk.section in titles
        if size >= 300:
            # A merged heading line may add a little. (At 120 characters the guideline's
            # reference list, whose every line reads as a heading, becomes one chunk.)
            assert len(chunk.text) <= size + 100


def test_corpus_chunk_sections_and_determinism() -> None:
    doc = load_document(CORPUS / "b12-infant-case-report.txt", "case.txt")
    first = chunk_document(doc, "case")
    assert first == chunk_document(doc, "case")
    by_section = {c.section for c in first}
    assert {"Abstract", "1. Introduction", "3. Discussion", "4. Conclusion"} <= by_section
    discussion = [c for c in first if c.section == "3. Discussion"]
    assert discussion[0].text.startswith("3. Discussion\nVitamin B12 is obtained")
    # Chunks end on a full stop rather than the next chunk starting with one.
    assert not any(c.text.startswith((".", ",", ";")) for c in first)


def test_small_sections_are_merged_into_the_next() -> None:
    text = "Dosing\n\nBased on Age\n\n- Infants: 0.3 μg/kg/day\n\nRoute\n\n" + "Oral route works well. " * 20
    text = normalise_text(text)
    heads = [text.index("Dosing"), text.index("Based on Age"), text.index("Route")]
    doc = _doc(text, _sections_at(text, heads))
    chunks = chunk_document(doc, "d")
    _assert_chunk_invariants(doc, chunks)
    assert chunks[0].start == 0
    assert chunks[0].section == "Dosing"
    assert chunks[0].text.startswith("Dosing\n\nBased on Age\n\n- Infants")


def test_small_last_section_joins_the_previous_one() -> None:
    text = normalise_text(
        "Methods\n\n" + "We measured cobalamin in all infants. " * 10 + "\n\nNotes\n\nNone."
    )
    doc = _doc(text, _sections_at(text, [0, text.index("Notes")]))
    chunks = chunk_document(doc, "d")
    _assert_chunk_invariants(doc, chunks)
    assert len(chunks) == 1
    assert chunks[0].text.endswith("Notes\n\nNone.")
    assert chunks[0].section == "Methods"


def test_heading_only_chunk_is_never_emitted() -> None:
    # The paragraph is longer than a chunk and has no blank line: LangChain's splitter
    # would emit "# Dosing" alone before splitting the paragraph.
    body = " ".join(f"Sentence {i} about oral cobalamin dosing in infants." for i in range(40))
    text = f"# Dosing\n\n{body}"
    doc = _doc(text, [Section(title="Dosing", start=0, end=len(text), level=1)])
    chunks = chunk_document(doc, "d", chunk_size=200, chunk_overlap=0)
    _assert_chunk_invariants(doc, chunks)
    assert chunks[0].text.startswith("# Dosing\n\nSentence 0")
    assert all(c.text.strip("# ") != "Dosing" for c in chunks)


def test_heading_only_document_still_gives_one_chunk() -> None:
    doc = _doc("# Title", [Section(title="Title", start=0, end=7, level=1)])
    chunks = chunk_document(doc, "d")
    assert [c.text for c in chunks] == ["# Title"]


def test_document_without_sections() -> None:
    text = "Plain text. " * 200
    doc = _doc(text.strip())
    chunks = chunk_document(doc, "plain", chunk_size=500, chunk_overlap=100)
    _assert_chunk_invariants(doc, chunks, "plain")
    assert all(c.section is None for c in chunks)
    assert len(chunks) > 1
    assert chunks[1].start < chunks[0].end  # overlap kept


def test_long_words_without_spaces() -> None:
    text = "x" * 2500 + "\n\n" + "é" * 30
    doc = _doc(text)
    chunks = chunk_document(doc, "d", chunk_size=1000, chunk_overlap=150)
    _assert_chunk_invariants(doc, chunks)
    assert max(len(c.text) for c in chunks) <= 1000


@pytest.mark.parametrize(
    "text",
    [
        "y" * 130 + " " + "y" * 131,  # a chunk's text repeats inside the overlap window
        "Contents\n\n" + "\n".join(f"Chapter {i} " + "." * 60 + f" {i}" for i in range(1, 8)),
        "\n\n".join(["Same row | same value"] * 30),
    ],
)
def test_repetitive_text_is_located_exactly(text: str) -> None:
    doc = _doc(text)
    for size, overlap in ((20, 10), (50, 25), (200, 0)):
        chunks = chunk_document(doc, "d", chunk_size=size, chunk_overlap=overlap)
        _assert_chunk_invariants(doc, chunks)
        assert all(len(c.text) <= size for c in chunks)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1), (100, 200)])
def test_bad_sizes(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="need chunk_size > 0"):
        chunk_document(_doc("text"), "d", chunk_size=size, chunk_overlap=overlap)


_WORDS = st.sampled_from(
    [
        "the",
        "infant",
        "B12",
        "0.3",
        "μg/kg",
        "café",
        "ß",
        "日本語",
        "e.g.",
        "Dr.",
        "(3)",
        "[14].",
        "—",
        "naïve",
        "x" * 45,
        "y" * 130,
        ".",
        ",",
        ";",
        "a",
    ]
)
_LINE = st.one_of(
    st.lists(_WORDS, min_size=1, max_size=40).map(" ".join),  # paragraph line
    st.lists(_WORDS, min_size=1, max_size=4).map(lambda w: "Heading " + " ".join(w)),
    st.lists(_WORDS, min_size=1, max_size=8).map(lambda w: "- " + " ".join(w)),
    st.just(""),  # blank line
    st.text(min_size=1, max_size=60),  # arbitrary unicode
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_LINE, min_size=1, max_size=40),
    heading_picks=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
    size=st.integers(min_value=20, max_value=400),
    overlap_ratio=st.floats(min_value=0, max_value=0.9),
)
def test_chunk_invariant_property(
    lines: list[str], heading_picks: list[int], size: int, overlap_ratio: float
) -> None:
    text = normalise_text("\n".join(lines))
    if not text:
        return
    line_starts = [0] + [m.end() for m in re.finditer("\n", text) if m.end() < len(text)]
    line_starts = [s for s in line_starts if text[s] != "\n"]
    heads = [line_starts[i % len(line_starts)] for i in heading_picks]
    doc = _doc(text, _sections_at(text, heads) if heads else None)
    overlap = int(size * overlap_ratio)
    chunks = chunk_document(doc, "p", chunk_size=size, chunk_overlap=overlap)
    assert chunks
    _assert_chunk_invariants(doc, chunks, "p")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=600))
def test_chunk_invariant_property_through_the_txt_loader(
    tmp_path_factory: pytest.TempPathFactory, raw: str
) -> None:
    path = tmp_path_factory.mktemp("prop") / "doc.txt"
    path.write_text(raw, encoding="utf-8")
    try:
        doc = load_document(path, "doc.txt")
    except Exception as exc:  # blank after normalisation: the one refusal allowed
        refusal = str(exc)
    else:
        refusal = None
    if refusal is not None:
        assert "no text found" in refusal
        return
    chunks = chunk_document(doc, "p", chunk_size=80, chunk_overlap=20)
    _assert_chunk_invariants(doc, chunks, "p")


# --------------------------------------------------------------------------------------
# split_sentences
# --------------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Infants need 0.3 μg/kg/day of cobalamin. Older children need 1.5 mg.",
            ["Infants need 0.3 μg/kg/day of cobalamin.", "Older children need 1.5 mg."],
        ),
        (
            "Drugs (i.e Metformin) may cause deficiency (Aktas et al., 2014). The prevalence varies.",
            ["Drugs (i.e Metformin) may cause deficiency (Aktas et al., 2014).", "The prevalence varies."],
        ),
        (
            "Use e.g. Oral B12 in mild cases. Give i.e. Cyanocobalamin. Dr. Smith agreed vs. Placebo.",
            [
                "Use e.g. Oral B12 in mild cases.",
                "Give i.e. Cyanocobalamin.",
                "Dr. Smith agreed vs. Placebo.",
            ],
        ),
        (
            "As Wirthensohn et al. Reported, stores are low. See Fig. 2 and approx. 25 μg at birth.",
            ["As Wirthensohn et al. Reported, stores are low.", "See Fig. 2 and approx. 25 μg at birth."],
        ),
        ("J. R. Smith treated the infant. It improved.", ["J. R. Smith treated the infant.", "It improved."]),
        (
            "Prognosis depends on precocity [19]. This pathology is rare (22). Next one.",
            ["Prognosis depends on precocity [19].", "This pathology is rare (22).", "Next one."],
        ),
        (
            "Early detection prevents harm. [3] Screening works.[4,5] Treat early. (6) Done.",
            ["Early detection prevents harm. [3]", "Screening works.[4,5]", "Treat early. (6)", "Done."],
        ),
        (
            (
                "Dosing Recommendations\n\n- Infants up to 12 months: 0.3 μg/kg/day 1\n"
                "• Children 1-2 years: 1 μg/day"
            ),
            [
                "Dosing Recommendations",
                "- Infants up to 12 months: 0.3 μg/kg/day 1",
                "• Children 1-2 years: 1 μg/day",
            ],
        ),
        (
            "1. Introduction\nVitamin B12 is a vitamin. Is it vital? Yes!",
            ["1. Introduction", "Vitamin B12 is a vitamin.", "Is it vital?", "Yes!"],
        ),
        (
            "The infant was treated with\nparenteral cobalamin. It improved.",
            ["The infant was treated with\nparenteral cobalamin.", "It improved."],
        ),
        ("“Treat now.” Then wait.", ["“Treat now.”", "Then wait."]),
        (
            "lower case after a stop. is not a new sentence.",
            ["lower case after a stop. is not a new sentence."],
        ),
        ("", []),
        ("   \n  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_split_sentences_offsets_are_absolute() -> None:
    doc_text = "Heading\n\nFirst sentence here. Second one."
    start = doc_text.index("First")
    passage = doc_text[start:]
    spans = split_sentences(passage, start=start)
    assert [doc_text[a:b] for a, b in spans] == ["First sentence here.", "Second one."]


def test_split_sentences_on_corpus_chunks() -> None:
    doc = load_document(CORPUS / "b12-infant-case-report.txt", "case.txt")
    for chunk in chunk_document(doc, "c"):
        for a, b in split_sentences(chunk.text, start=chunk.start):
            sentence = doc.text[a:b]
            assert sentence and sentence == sentence.strip()
            assert chunk.start <= a < b <= chunk.end
    intro = doc.text
    spans = [intro[a:b] for a, b in split_sentences(intro)]
    assert (
        "Vegetarian diet, alcohol consumption, smoking, gastric acid suppression and drugs "
        "(i.e Metformin) may cause vitamin B12 deficiency (Aktas et al., 2014)." in spans
    )
    assert (
        "Unlike adults, infants have limited hepatic B12 stores (approximately 25-30 μg at birth) "
        "and higher metabolic demands relative to body weight, making them particularly vulnerable "
        "to rapid depletion when dietary intake is inadequate (3)." in spans
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["Dr.", "e.g.", "0.3", "[14].", "(3)", "\n", "\n- ", "?", "!", ". ", "A.", "x", "Z"]
            ),
            st.text(max_size=12),
        ),
        max_size=30,
    ).map("".join),
    st.integers(min_value=0, max_value=1000),
)
def test_split_sentences_property(text: str, start: int) -> None:
    spans = split_sentences(text, start=start)
    covered = set()
    previous_end = start
    for a, b in spans:
        assert previous_end <= a < b <= start + len(text)
        piece = text[a - start : b - start]
        assert piece == piece.strip() and piece
        covered.update(range(a - start, b - start))
        previous_end = b
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
