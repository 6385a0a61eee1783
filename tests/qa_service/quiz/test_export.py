"""Exports parse as what they claim to be: GIFT grammar, QTI 2.1 XML in an IMS package, CSV, JSON, Anki."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from qa_service.models import QuizItem
from qa_service.quiz.export import (
    CP_NS,
    LETTERS,
    QTI_NS,
    gift_escape,
    to_csv,
    to_gift,
    to_json,
    write_anki,
    write_qti,
)
from tests.qa_service.quiz.conftest import TOPIC, gift_unescape, parse_gift

Q = {"qti": QTI_NS}


def test_json_is_the_contract_shape(quiz: list[Any]) -> None:
    data = json.loads(to_json(quiz))
    assert list(data) == ["items"] and len(data["items"]) == len(quiz)
    for raw in data["items"]:
        item = QuizItem.model_validate(raw)
        assert {"id", "stem", "options", "answer_index", "rationale", "citations"} <= set(raw)
        assert 0 <= item.answer_index < len(item.options)
        assert {"doc_id", "source", "section", "start", "end", "text", "score", "id"} <= set(
            raw["citations"][0]
        )


def test_gift_escapes_special_characters() -> None:
    assert gift_escape("a=b ~c #d {e} f:g \\h") == r"a\=b \~c \#d \{e\} f\:g \\h"
    assert gift_unescape(gift_escape("ratio 1:2 {x}")) == "ratio 1:2 {x}"


def test_gift_parses_and_keeps_the_key_and_citation(quiz: list[Any]) -> None:
    questions = parse_gift(to_gift(quiz, TOPIC))
    assert len(questions) == len(quiz)
    for q, it in zip(questions, quiz, strict=True):
        right = [a for a in q["answers"] if a["mark"] == "="]
        assert len(right) == 1 and len(q["answers"]) == len(it.options)
        assert gift_unescape(right[0]["text"]) == it.options[it.answer_index]
        assert gift_unescape(q["stem"]) == it.stem
        cite = it.citations[0]
        assert f"{cite.source} · {cite.section} · chars {cite.start}-{cite.end}" in gift_unescape(
            q["general"]
        )
        assert all(a["feedback"] for a in q["answers"])


def test_gift_validator_rejects_broken_questions() -> None:
    import pytest

    with pytest.raises(AssertionError):
        parse_gift("::Q1:: What is 1+1? {=2 ~3 ~4")  # unclosed
    with pytest.raises(AssertionError):
        parse_gift("::Q1:: ratio 1:2? {=2 ~3 ~4}")  # unescaped colon


def test_qti_package_parses(quiz: list[Any], tmp_path: Path) -> None:
    path = write_qti(quiz, tmp_path / "quiz.zip")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = ET.fromstring(zf.read("imsmanifest.xml"))
        assert manifest.tag == f"{{{CP_NS}}}manifest"
        resources = manifest.findall(f".//{{{CP_NS}}}resource")
        assert len(resources) == len(quiz)
        for res, it in zip(resources, quiz, strict=True):
            assert res.get("type") == "imsqti_item_xmlv2p1" and res.get("href") in names
            root = ET.fromstring(zf.read(res.get("href")))
            assert root.tag == f"{{{QTI_NS}}}assessmentItem"
            decl = root.find("qti:responseDeclaration", Q)
            assert decl is not None and decl.get("cardinality") == "single"
            correct = decl.find("qti:correctResponse/qti:value", Q)
            assert root.find("qti:outcomeDeclaration[@identifier='SCORE']", Q) is not None
            interaction = root.find("qti:itemBody/qti:choiceInteraction", Q)
            assert interaction is not None
            assert interaction.get("shuffle") == "false" and interaction.get("maxChoices") == "1"
            choices = interaction.findall("qti:simpleChoice", Q)
            assert [c.text for c in choices] == it.options
            assert correct is not None and correct.text == choices[it.answer_index].get("identifier")
            assert len(root.findall("qti:modalFeedback", Q)) == len(it.options)


def test_csv_has_one_row_per_item(quiz: list[Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(quiz))))
    assert len(rows) == len(quiz)
    for row, it in zip(rows, quiz, strict=True):
        assert row["id"] == it.id and row["stem"] == it.stem
        assert row["answer"] == LETTERS[it.answer_index]
        assert row[f"option_{row['answer'].lower()}"] == it.options[it.answer_index]
        assert it.citations[0].source in row["citation"] and "chars" in row["citation"]


def test_anki_package_is_written(quiz: list[Any], tmp_path: Path) -> None:
    path = write_anki(quiz, tmp_path / "quiz.apkg", TOPIC)
    with zipfile.ZipFile(path) as zf:
        assert any(n.startswith("collection.anki2") for n in zf.namelist())
