"""Quiz builder benchmark on corpora the team did not write: items per topic, quality, topic share, items/s.

Run: ``nice -n 10 .venv/bin/python benchmarks/quiz.py [--n 5] [--only nih3,consumer,nih,pubmedqa,consumer8]
[--json PATH] [--work DIR] [--print]``. Corpora are built from ``../shared/data`` into a temporary folder, or into
``--work DIR`` to keep and reuse them (nothing is copied into the repository):

- ``nih3``: three NIH pages of ``nih_demo_corpus`` written as a PDF (Pernicious Anemia, fpdf2), a DOCX
  (Iron-Deficiency Anemia, python-docx) and an HTML page (Celiac Disease); one topic each;
- ``consumer``: the team's consumer-health corpus (``python -m eval.datasets consumer``): 40 MedQuAD pages
  on 8 conditions (glaucoma, COPD, osteoporosis, shingles, high blood pressure, kidney disease, psoriasis,
  Parkinson's disease), file names like ``medquad__2_GARD_QA__0002514.md``; one topic per condition;
- ``consumer8``: consumer-health pages (NIHSeniorHealth, MedQuAD) on 8 conditions the seeds do not cover,
  plus 10 other conditions' pages as background, written as ``.txt`` files with no title line and
  MedQuAD-style file names (a stem that names the file fails);
- ``nih``: all 110 ``nih_demo_corpus`` pages as Markdown; three topics;
- ``pubmedqa``: 150 PubMedQA abstracts (no titles); two topics from their commonest specific MeSH terms.

Per topic it prints the items built for ``--n``, and for each item the independent checks below; a
*bad* item fails any of them:

- ``grammar``: the stem passes :func:`qa_service.quiz.grammar.check_stem`;
- ``on_topic`` (the token-overlap proxy): at least half of the topic's content words (stemmed) occur in
  the cited document's title or first line, the cited sentence's section heading, the sentence or the stem;
- ``title_not_file``: the stem does not contain the cited source's file name;
- ``key_supported``: the key's text is in its cited sentence (units unified);
- ``distractor_not_stated``: no distractor occurs in any sentence of the *whole corpus* that, read with
  its document's title and first line, also holds 60% of the stem's nouns and adjectives (stemmed; the
  distractor's own words do not count);
- ``distractor_possible``: no share above 100%, no negative value;
- ``one_item_per_sentence``: no two items cite the same key sentence.

"Passing every check" is the share of items that are not bad; items/s is items over the whole quiz time.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"

CONSUMER8 = [
    "Osteoporosis",
    "Parkinson's Disease",
    "Shingles",
    "Gout",
    "Psoriasis",
    "High Blood Pressure",
    "Osteoarthritis",
    "Dry Eye",
]
BACKGROUND = [
    "Diabetes",
    "Skin Cancer",
    "Balance Problems",
    "Hearing Loss",
    "Depression",
    "Heart Attack",
    "Kidney Disease",
    "Colorectal Cancer",
    "Rheumatoid Arthritis",
    "Leukemia",
]
NIH3 = {"pdf": "Pernicious Anemia", "docx": "Iron-Deficiency Anemia", "html": "Celiac Disease"}
NIH3_TOPICS = ["pernicious anemia", "iron deficiency anemia", "celiac disease"]
NIH_TOPICS = ["folic acid", "vitamin D", "sickle cell anemia"]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ascii(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def build_nih3(out: Path) -> list[str]:
    from docx import Document as Docx
    from fpdf import FPDF

    pages = {
        d["title"]: d
        for d in _jsonl(SHARED / "nih_demo_corpus" / "medquad_blood_nutrition_docs.jsonl")
        if d["title"] in NIH3.values() and d.get("publisher_source") in {"NHLBI", "NIDDK"}
    }
    out.mkdir(parents=True)
    p = pages[NIH3["pdf"]]
    pdf = FPDF()
    pdf.add_page()
    pdf.set_title(p["title"])
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 10, _ascii(p["title"]), new_x="LMARGIN", new_y="NEXT")
    for sec in p["sections"]:
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, _ascii(sec["heading"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, _ascii(sec["text"]), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(out / "pernicious-anemia.pdf"))
    p = pages[NIH3["docx"]]
    doc = Docx()
    doc.core_properties.title = p["title"]
    doc.add_heading(p["title"], level=1)
    for sec in p["sections"]:
        doc.add_heading(sec["heading"], level=2)
        for para in sec["text"].split("\n"):
            if para.strip():
                doc.add_paragraph(para.strip())
    doc.save(str(out / "iron-deficiency-anemia.docx"))
    p = pages[NIH3["html"]]
    import html

    body = "".join(
        f"<h2>{html.escape(sec['heading'])}</h2>"
        + "".join(f"<p>{html.escape(x)}</p>" for x in sec["text"].split("\n") if x.strip())
        for sec in p["sections"]
    )
    (out / "celiac-disease.html").write_text(
        f"<html><head><title>{html.escape(p['title'])}</title></head><body><h1>{html.escape(p['title'])}</h1>"
        f"{body}</body></html>",
        encoding="utf-8",
    )
    return NIH3_TOPICS


def build_consumer8(out: Path) -> list[str]:
    out.mkdir(parents=True)
    pages: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in _jsonl(SHARED / "medquad" / "qa.jsonl"):
        if r["source_collection"] == "7_SeniorHealth_QA" and r["focus"] in CONSUMER8 + BACKGROUND:
            pages[r["focus"]].append(r)
    for i, (focus, rows) in enumerate(sorted(pages.items())):
        slug = re.sub(r"[^a-z0-9]+", "-", focus.lower()).strip("-")
        seen, parts = set(), []
        for r in rows:
            if r["answer"] in seen:
                continue
            seen.add(r["answer"])
            parts.append(f"{r['question'].strip()}\n{r['answer'].strip()}\n")
        (out / f"{slug}-mqp{i:05d}.txt").write_text("\n".join(parts), encoding="utf-8")
    return [c.lower() for c in CONSUMER8]


def build_consumer(out: Path) -> list[str]:
    """The team's consumer-health corpus (``python -m eval.datasets consumer``): 40 MedQuAD pages, 8 conditions."""
    from eval.datasets.consumer import PAGES_FILE, load_selection
    from eval.datasets.consumer import build_consumer as build

    build(out.parent, data_root=SHARED, force=True)
    return [c.name for c in load_selection(PAGES_FILE).conditions]


def build_nih(out: Path) -> list[str]:
    out.mkdir(parents=True)
    for i, d in enumerate(_jsonl(SHARED / "nih_demo_corpus" / "medquad_blood_nutrition_docs.jsonl")):
        body = "\n\n".join(f"## {s['heading']}\n\n{s['text']}" for s in d["sections"])
        (out / f"nih-{i:03d}.md").write_text(f"# {d['title']}\n\n{body}\n", encoding="utf-8")
    return NIH_TOPICS


def build_pubmedqa(out: Path) -> list[str]:
    out.mkdir(parents=True)
    docs = _jsonl(SHARED / "pubmedqa" / "corpus.jsonl")[:150]
    counts = collections.Counter(m.split("/")[0].strip() for d in docs for m in set(d.get("meshes") or []))
    specific = [
        m for m, c in counts.most_common() if c <= 0.05 * len(docs) and c >= 4 and len(m.split()) <= 3
    ]
    for d in docs:
        (out / f"pmid-{d['doc_id']}.txt").write_text(d["text"], encoding="utf-8")
    return [m.lower() for m in specific[:2]]


BUILDERS = {
    "nih3": build_nih3,
    "consumer": build_consumer,
    "consumer8": build_consumer8,
    "nih": build_nih,
    "pubmedqa": build_pubmedqa,
}


# ------------------------------------------------------------------ independent checks


def _corpus_sentences(engine: Any) -> list[tuple[str, str]]:
    """Every sentence of the corpus with its document's title and first line (what it is about)."""
    from ingest.chunking import split_sentences

    out = []
    for d in engine.store.list_documents():
        doc = engine.store.get_document(d.doc_id)
        about = " ".join(x for x in (doc.title, doc.text[:200].split("\n")[0]) if x)
        out.extend((doc.text[a:b], about) for a, b in split_sentences(doc.text))
    return out


def item_checks(item: Any, topic: str, engine: Any, sentences: list[tuple[str, str]]) -> dict[str, bool]:
    from qa_service.quiz.checks import text_contains
    from qa_service.quiz.evidence import content_terms, topic_terms
    from qa_service.quiz.generate import stem_body, subject_terms
    from qa_service.quiz.grammar import check_stem
    from qa_service.quiz.quantities import parse_option

    c = item.citations[0]
    doc = engine.store.get_document(c.doc_id)
    lead = doc.text[:200].split("\n")[0]
    context = set(content_terms(" ".join(x for x in (doc.title, lead, c.section, c.text, item.stem) if x)))
    terms = topic_terms(topic)
    file_stem = re.sub(r"\.[A-Za-z0-9]+$", "", c.source.rsplit("/", 1)[-1])
    key = item.options[item.answer_index]
    distractors = [o for i, o in enumerate(item.options) if i != item.answer_index]
    anchor = subject_terms(stem_body(item.stem))  # the stem's nouns and adjectives
    need = max(1, round(0.6 * len(anchor)))

    def stated(d: str) -> bool:
        if parse_option(d) is not None:
            return False  # numeric options: the builder's own guard covers values (pint); checked in tests
        return any(
            text_contains(s, d)
            and len(anchor & content_terms(re.sub(re.escape(d), " ", s, flags=re.IGNORECASE) + " " + about)) >= need
            for s, about in sentences
            if s.strip() != c.text.strip()
        )

    def possible(d: str) -> bool:
        a = parse_option(d)
        return a is None or (a.low >= 0 and not (a.pint_unit == "percent" and a.high > 100))

    return {
        "grammar": check_stem(item.stem) is None,
        "on_topic": not terms or sum(t in context for t in terms) >= 0.5 * len(terms),
        "title_not_file": file_stem.lower() not in item.stem.lower(),
        "key_supported": text_contains(c.text, key),
        "distractor_not_stated": not any(stated(d) for d in distractors),
        "distractor_possible": all(possible(d) for d in distractors),
    }


def run_corpus(
    name: str, n: int, work: Path, show: int, topics_only: list[str] | None = None, verbose: bool = False
) -> list[dict[str, Any]]:
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine
    from qa_service.quiz import QuizError
    from qa_service.quiz.generate import build_report

    folder = work / name / "corpus"
    marker = work / name / "topics.json"
    if marker.is_file():  # a kept --work folder: the corpus is built and ingested already
        topics = json.loads(marker.read_text(encoding="utf-8"))
    else:
        topics = BUILDERS[name](folder)
        marker.write_text(json.dumps(topics), encoding="utf-8")
    if topics_only:
        topics = [t for t in topics if t in topics_only]
    rows = []
    engine = Engine.open(get_settings(work / name / "store"), owner={"command": "bench-quiz"})
    try:
        ingest_paths(engine.store, [folder])
        sentences = _corpus_sentences(engine)
        engine.ask("What is the treatment?")  # warm-up: model, pint, BM25
        for topic in topics:
            if verbose:
                print(f"\n=== {name}: {topic}", flush=True)
            started = time.perf_counter()
            try:
                report = build_report(engine, topic, n=n, seed=0)
                items, note = report.items, ""
            except QuizError as exc:
                items, note = [], str(exc)
            elapsed = time.perf_counter() - started
            checks = [item_checks(it, topic, engine, sentences) for it in items]
            if verbose:
                _print_items(items, checks)
            keys = [(it.citations[0].doc_id, it.citations[0].start) for it in items]
            one_per_sentence = len(set(keys)) == len(keys)
            bad = [it for it, ch in zip(items, checks) if not all(ch.values())]
            row = {
                "corpus": name,
                "topic": topic,
                "items": len(items),
                "seconds": round(elapsed, 2),
                "passing_all": (len(items) - len(bad)) / len(items) if items else None,
                "on_topic": sum(ch["on_topic"] for ch in checks) / len(items) if items else None,
                "one_item_per_sentence": one_per_sentence,
                "failed": collections.Counter(k for ch in checks for k, v in ch.items() if not v),
                "note": note[:160],
                "examples": [
                    {
                        "stem": it.stem,
                        "options": it.options,
                        "key": it.options[it.answer_index],
                        "cited": it.citations[0].text,
                        "checks": ch,
                    }
                    for it, ch in list(zip(items, checks))[:show]
                ],
            }
            rows.append(row)
            print(
                f"{name:10s} {topic[:28]:28s} items {len(items)}/{n}  passing {row['passing_all'] if items else '-'}"
                f"  on-topic {row['on_topic'] if items else '-'}  {elapsed:.1f}s"
                + (f"  failed {dict(row['failed'])}" if row["failed"] else "")
                + (f"  [{note[:90]}]" if note else ""),
                flush=True,
            )
    finally:
        engine.close()
    return rows


def _print_items(items: list[Any], checks: list[dict[str, bool]]) -> None:
    for it, ch in zip(items, checks):
        failed = [k for k, v in ch.items() if not v]
        print(f"- {it.stem}" + (f"   FAILED {failed}" if failed else ""))
        for i, o in enumerate(it.options):
            print(f"    {'*' if i == it.answer_index else ' '} {o}   | {it.option_rationales[i][:150]}")
        print(f"    cited: {it.citations[0].text[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--only", default=",".join(BUILDERS))
    parser.add_argument("--show", type=int, default=5, help="items per topic kept in --json")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--topics", default="", help="comma-separated: only these topics")
    parser.add_argument("--work", type=Path, default=None, help="keep built corpora and stores here (reused)")
    parser.add_argument("--print", dest="verbose", action="store_true", help="print every item")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"needs the shared data folder at {SHARED}")
    rows: list[dict[str, Any]] = []
    only = [t.strip() for t in args.topics.split(",") if t.strip()] or None
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for name in args.only.split(","):
            rows.extend(run_corpus(name, args.n, work, args.show, only, args.verbose))
    items = sum(r["items"] for r in rows)
    secs = sum(r["seconds"] for r in rows)
    good = sum(round((r["passing_all"] or 0) * r["items"]) for r in rows)
    on = sum(round((r["on_topic"] or 0) * r["items"]) for r in rows)
    print(
        f"\ntopics {len(rows)}  items {items}  passing every check {good}/{items}  on topic {on}/{items}  "
        f"items/s {items / secs if secs else 0:.2f}  topics with >= {args.n - 1} items: "
        f"{sum(r['items'] >= args.n - 1 for r in rows)}/{len(rows)}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
