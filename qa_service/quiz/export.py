"""Quiz exports: JSON, Moodle GIFT, QTI 2.1 content package (zip), CSV, Anki (.apkg via genanki).

Every format carries the citation of the key (source · section · chars start-end)
so a student can open the source at the sentence that supports the answer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from qa_service.models import Citation, QuizItem

FORMATS = ("json", "gift", "qti", "csv", "anki")
FILE_FORMATS = ("qti", "anki")  # binary packages: need --out
LETTERS = "ABCDEFGHIJ"

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_MARKER = re.compile(r"\s*\[(\d+)\]")


def citation_label(c: Citation) -> str:
    """``source · section · chars start-end`` (how every export names a citation)."""
    parts = [c.source]
    if c.section:
        parts.append(c.section)
    parts.append(f"chars {c.start}-{c.end}")
    return " · ".join(parts)


def _with_sources(text: str, citations: Sequence[Citation]) -> str:
    """Replace ``[n]`` markers by ``[source · section · chars a-b]`` (stand-alone feedback)."""
    by_id = {c.id: c for c in citations}

    def sub(m: re.Match[str]) -> str:
        c = by_id.get(int(m.group(1)))
        return f" [{citation_label(c)}]" if c else m.group(0)

    return _MARKER.sub(sub, text)


# ------------------------------------------------------------------ JSON


def to_json(items: Sequence[QuizItem]) -> str:
    """The contract's JSON: ``{"items": [QuizItem]}``."""
    return json.dumps({"items": [it.model_dump(mode="json") for it in items]}, ensure_ascii=False)


# ------------------------------------------------------------------ GIFT

_GIFT_SPECIAL = re.compile(r"([~=#{}:\\])")


def gift_escape(text: str) -> str:
    """Escape GIFT's special characters (``~ = # { } :`` and the backslash) and fold newlines."""
    return _GIFT_SPECIAL.sub(r"\\\1", re.sub(r"\s*\n\s*", " ", text)).strip()


def to_gift(items: Sequence[QuizItem], topic: str | None = None) -> str:
    """Moodle GIFT multiple-choice questions; each answer's feedback is its rationale with the cited source.

    Every question also carries general feedback (``####``) with the key's citation.
    """
    blocks = []
    if topic:
        blocks.append(
            f"// medcite quiz: {topic.replace(chr(10), ' ')}\n// {len(items)} items; "
            "every key cites its source sentence"
        )
    for n, it in enumerate(items, 1):
        lines = [f"::Q{n} {gift_escape(it.id)}:: {gift_escape(it.stem)} {{"]
        rationales = it.option_rationales or [""] * len(it.options)
        for i, (option, why) in enumerate(zip(it.options, rationales, strict=False)):
            mark = "=" if i == it.answer_index else "~"
            feedback = f"#{gift_escape(_with_sources(why, it.citations))}" if why else ""
            lines.append(f"\t{mark}{gift_escape(option)}{feedback}")
        general = f"{_with_sources(it.rationale, it.citations)}"
        lines.append(f"\t####{gift_escape(general)}")
        lines.append("}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# ------------------------------------------------------------------ CSV


def to_csv(items: Sequence[QuizItem]) -> str:
    """One row per item: id, stem, option_a..., answer letter, rationale, citation."""
    width = max((len(it.options) for it in items), default=4)
    header = (
        ["id", "stem"]
        + [f"option_{LETTERS[i].lower()}" for i in range(width)]
        + ["answer", "rationale", "citation"]
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for it in items:
        options = list(it.options) + [""] * (width - len(it.options))
        key_cite = citation_label(it.citations[0]) if it.citations else ""
        writer.writerow([it.id, it.stem, *options, LETTERS[it.answer_index], it.rationale, key_cite])
    return buf.getvalue()


# ------------------------------------------------------------------ QTI 2.1


def _q(tag: str) -> str:
    return f"{{{QTI_NS}}}{tag}"


def qti_item_xml(item: QuizItem, identifier: str) -> bytes:
    """One QTI 2.1 ``assessmentItem`` (single choice, options in the given order, per-option feedback)."""
    ET.register_namespace("", QTI_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(
        _q("assessmentItem"),
        {
            "identifier": identifier,
            "title": item.stem[:80],
            "adaptive": "false",
            "timeDependent": "false",
            f"{{{XSI_NS}}}schemaLocation": f"{QTI_NS} {QTI_XSD}",
        },
    )
    choice_ids = [f"choice_{LETTERS[i]}" for i in range(len(item.options))]
    rd = ET.SubElement(
        root, _q("responseDeclaration"), identifier="RESPONSE", cardinality="single", baseType="identifier"
    )
    ET.SubElement(ET.SubElement(rd, _q("correctResponse")), _q("value")).text = choice_ids[item.answer_index]
    od = ET.SubElement(
        root, _q("outcomeDeclaration"), identifier="SCORE", cardinality="single", baseType="float"
    )
    ET.SubElement(ET.SubElement(od, _q("defaultValue")), _q("value")).text = "0"
    ET.SubElement(
        root, _q("outcomeDeclaration"), identifier="FEEDBACK", cardinality="single", baseType="identifier"
    )
    body = ET.SubElement(root, _q("itemBody"))
    interaction = ET.SubElement(
        body, _q("choiceInteraction"), responseIdentifier="RESPONSE", shuffle="false", maxChoices="1"
    )
    ET.SubElement(interaction, _q("prompt")).text = item.stem
    for cid, option in zip(choice_ids, item.options, strict=False):
        ET.SubElement(interaction, _q("simpleChoice"), identifier=cid).text = option
    _qti_response_processing(root)
    rationales = item.option_rationales or [""] * len(item.options)
    for cid, why in zip(choice_ids, rationales, strict=False):
        fb = ET.SubElement(
            root, _q("modalFeedback"), outcomeIdentifier="FEEDBACK", identifier=cid, showHide="show"
        )
        fb.text = _with_sources(why or item.rationale, item.citations)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _qti_response_processing(root: ET.Element) -> None:
    """SCORE 1 for the correct choice, else 0; FEEDBACK = the chosen identifier
    (shows that choice's feedback)."""
    rp = ET.SubElement(root, _q("responseProcessing"))
    cond = ET.SubElement(rp, _q("responseCondition"))
    rif = ET.SubElement(cond, _q("responseIf"))
    match = ET.SubElement(rif, _q("match"))
    ET.SubElement(match, _q("variable"), identifier="RESPONSE")
    ET.SubElement(match, _q("correct"), identifier="RESPONSE")
    set1 = ET.SubElement(rif, _q("setOutcomeValue"), identifier="SCORE")
    ET.SubElement(set1, _q("baseValue"), baseType="float").text = "1"
    relse = ET.SubElement(cond, _q("responseElse"))
    set0 = ET.SubElement(relse, _q("setOutcomeValue"), identifier="SCORE")
    ET.SubElement(set0, _q("baseValue"), baseType="float").text = "0"
    setfb = ET.SubElement(rp, _q("setOutcomeValue"), identifier="FEEDBACK")
    ET.SubElement(setfb, _q("variable"), identifier="RESPONSE")


def qti_manifest_xml(files: Sequence[tuple[str, str, str]], title: str) -> bytes:
    """``imsmanifest.xml`` listing one ``imsqti_item_xmlv2p1`` resource per (identifier, href, title)."""
    ET.register_namespace("", CP_NS)
    ET.register_namespace("xsi", XSI_NS)
    ns = CP_NS

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}"

    digest = hashlib.sha256("|".join(f[0] for f in files).encode()).hexdigest()[:12]
    root = ET.Element(
        q("manifest"),
        {
            "identifier": f"MANIFEST-{digest}",
            f"{{{XSI_NS}}}schemaLocation": f"{ns} {CP_XSD} {QTI_NS} {QTI_XSD}",
        },
    )
    meta = ET.SubElement(root, q("metadata"))
    ET.SubElement(meta, q("schema")).text = "QTIv2.1 Package"
    ET.SubElement(meta, q("schemaversion")).text = "1.0.0"
    ET.SubElement(root, q("organizations"))
    resources = ET.SubElement(root, q("resources"))
    for identifier, href, _title in files:
        res = ET.SubElement(
            resources, q("resource"), identifier=f"RES-{identifier}", type="imsqti_item_xmlv2p1", href=href
        )
        ET.SubElement(res, q("file"), href=href)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_qti(items: Sequence[QuizItem], path: Path, title: str = "medcite quiz") -> Path:
    """An IMS content package: ``imsmanifest.xml`` plus ``items/<id>.xml`` per item (what an LMS imports)."""
    files = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, it in enumerate(items, 1):
            identifier = f"ITEM-{n:03d}-{it.id}"
            href = f"items/{identifier}.xml"
            zf.writestr(href, qti_item_xml(it, identifier))
            files.append((identifier, href, it.stem[:80]))
        zf.writestr("imsmanifest.xml", qti_manifest_xml(files, title))
    return path


# ------------------------------------------------------------------ Anki


def write_anki(items: Sequence[QuizItem], path: Path, topic: str) -> Path:
    """An Anki deck (.apkg): front = stem and lettered options, back = answer, rationale and citation."""
    import genanki

    ids = hashlib.sha256(f"medcite-quiz|{topic}".encode()).digest()
    model_id = 1_607_392_319  # fixed: one note type for every medcite deck
    deck_id = int.from_bytes(ids[:4], "big") | 1 << 30
    model = genanki.Model(
        model_id,
        "medcite multiple choice",
        fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Citation"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Question}}",
                "afmt": "{{FrontSide}}<hr id=answer>{{Answer}}<br><small>{{Citation}}</small>",
            }
        ],
    )
    deck = genanki.Deck(deck_id, f"medcite: {topic}")
    for it in items:
        options = "<br>".join(f"{LETTERS[i]}) {_html(o)}" for i, o in enumerate(it.options))
        question = f"{_html(it.stem)}<br><br>{options}"
        key = f"{LETTERS[it.answer_index]}) {_html(it.options[it.answer_index])}"
        answer = f"<b>{key}</b><br>{_html(it.rationale)}"
        cite = "<br>".join(f"[{c.id}] {_html(citation_label(c))}" for c in it.citations)
        deck.add_note(
            genanki.Note(model=model, fields=[question, answer, cite], guid=genanki.guid_for(it.id))
        )
    genanki.Package(deck).write_to_file(str(path))
    return path


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
