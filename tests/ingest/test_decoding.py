"""Text decoding: short legacy Western files read as Western, BOMs and UTF-8 win, foreign text stays foreign.

Each sample is the kind of short note people actually save (a clinic memo, a dosing line,
a patient leaflet sentence), written to a .txt file in the encoding named and read back
through ``load_document``: the stored text must equal what the author typed.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.loaders import load_document

# The note of issue 14: 71 bytes of Latin-1 that charset-normalizer alone reads as cp775.
LATIN1_NOTE = "Notes on café au lait spots and B12: naïve infants need 0,4 µg per day."

WESTERN_SAMPLES: list[tuple[str, str, str]] = [
    ("latin-1 note", LATIN1_NOTE, "latin-1"),
    ("cp1252 quotes, euro, dashes", "The “loading dose” costs €12 – give 1 mg IM on days 1–3.", "cp1252"),
    ("cp1252 apostrophes", "Don’t stop; it’s the patient’s choice — ask ‘why’ first.", "cp1252"),
    ("cp1252 French", "Carence en vitamine B12 : l’enfant reçoit 1 000 µg à J1, puis à J8.", "cp1252"),
    ("latin-1 German", "Größe und Gewicht: Säugling, 3 Monate, Übelkeit seit zwei Tagen.", "latin-1"),
    ("latin-1 Spanish", "Niño de 3 años con anemia; dosis: 0,5 µg/kg, vía intramuscular.", "latin-1"),
    ("cp1252 Portuguese", "Criança com anemia: não há resposta à vitamina; ação imediata.", "cp1252"),
    ("latin-1 Danish", "Blodprøve før behandling: søg læge ved åndenød.", "latin-1"),
    (
        "cp1252 bullets and symbols",
        "• Dose: 1 mg IM • Follow-up: 3 months • Cost: €40 ™ ©2024 — “see below”",
        "cp1252",
    ),
    ("latin-1, eleven bytes", "Café: 5 µg.", "latin-1"),
]

UNICODE_SAMPLES: list[tuple[str, str, str]] = [
    ("UTF-8", "Notes on café au lait spots: naïve infants need 0,4 µg – daily.", "utf-8"),
    ("UTF-8 with BOM", "Notes on café au lait spots: naïve infants need 0,4 µg – daily.", "utf-8-sig"),
    ("UTF-16 LE with BOM", "Notes on café: naïve infants need 0,4 µg – daily; Дефицит B12.", "utf-16-le+bom"),
    ("UTF-16 BE with BOM", "Notes on café: naïve infants need 0,4 µg – daily; 欠乏症.", "utf-16-be+bom"),
    ("UTF-32 LE with BOM", "Dose 0,4 µg – naïve.", "utf-32-le+bom"),
    ("ASCII", "Give 1 mg IM daily for one week, then weekly.", "ascii"),
]

# Long enough for a detector to recognise the language; none of these may be forced into cp1252.
FOREIGN_SAMPLES: list[tuple[str, str, str]] = [
    (
        "cp1251 Russian",
        "Дефицит витамина B12 у детей грудного возраста: симптомы, диагностика и лечение. "
        "Назначают цианокобаламин внутримышечно, затем поддерживающую терапию.",
        "cp1251",
    ),
    (
        "Shift-JIS Japanese",
        "ビタミンB12欠乏症の乳児には、筋肉内注射で治療を行います。神経症状がある場合は早期に治療を開始してください。",
        "shift_jis",
    ),
    (
        "cp1253 Greek",
        "Η ανεπάρκεια βιταμίνης B12 στα βρέφη προκαλεί αναιμία και νευρολογικά συμπτώματα· "
        "η θεραπεία είναι ενδομυϊκή.",
        "cp1253",
    ),
    (
        "cp1250 Polish",
        "Niedobór witaminy B12 u niemowląt: leczenie zależy od przyczyny, a objawy neurologiczne "
        "wymagają szybkiej suplementacji. Dziecko karmione piersią przez matkę na diecie wegańskiej "
        "może mieć zaburzenia rozwoju; należy oznaczyć stężenie kobalaminy i kwasu metylomalonowego.",
        "cp1250",
    ),
    (
        "Mac Roman French",
        "Carence en vitamine B12 : l'enfant reçoit 1 000 µg à J1, puis à J8; hématologie.",
        "mac_roman",
    ),
]


def _encode(text: str, encoding: str) -> bytes:
    if encoding.endswith("+bom"):
        codec = encoding.removesuffix("+bom")
        bom = {
            "utf-16-le": codecs.BOM_UTF16_LE,
            "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE,
        }
        return bom[codec] + text.encode(codec)
    return text.encode(encoding)


def _load(tmp_path: Path, raw: bytes, name: str = "note.txt") -> str:
    path = tmp_path / name
    path.write_bytes(raw)
    return load_document(path, name).text


def test_the_latin1_note_of_the_issue(tmp_path: Path) -> None:
    raw = LATIN1_NOTE.encode("latin-1")
    assert len(raw) == 71
    text = _load(tmp_path, raw)
    assert text == LATIN1_NOTE
    for word in ("café", "naïve", "µg"):
        assert word in text


@pytest.mark.parametrize(("label", "text", "encoding"), WESTERN_SAMPLES, ids=[s[0] for s in WESTERN_SAMPLES])
def test_short_western_files_decode_as_written(tmp_path: Path, label: str, text: str, encoding: str) -> None:
    raw = _encode(text, encoding)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the sample really is legacy 8-bit text
    assert _load(tmp_path, raw) == text


@pytest.mark.parametrize(("label", "text", "encoding"), UNICODE_SAMPLES, ids=[s[0] for s in UNICODE_SAMPLES])
def test_unicode_files_and_boms(tmp_path: Path, label: str, text: str, encoding: str) -> None:
    assert _load(tmp_path, _encode(text, encoding)) == text


@pytest.mark.parametrize(("label", "text", "encoding"), FOREIGN_SAMPLES, ids=[s[0] for s in FOREIGN_SAMPLES])
def test_non_western_files_are_not_forced_into_cp1252(
    tmp_path: Path, label: str, text: str, encoding: str
) -> None:
    raw = _encode(text, encoding)
    assert raw.decode("cp1252", errors="replace") != text  # a cp1252 reading would be wrong
    assert _load(tmp_path, raw) == text


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_markdown_and_html_share_the_decoder(tmp_path: Path, suffix: str) -> None:
    body = LATIN1_NOTE if suffix == ".md" else f"<html><body><p>{LATIN1_NOTE}</p></body></html>"
    assert _load(tmp_path, body.encode("latin-1"), name=f"note{suffix}") == LATIN1_NOTE
