"""Dataset adapters build a corpus folder and a valid gold file whose quotes are verbatim."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eval.datasets.__main__ import main as datasets_cli
from eval.datasets.medquad import build_medquad
from eval.datasets.pubmedqa import build_pubmedqa
from eval.gold import load_gold
from ingest.errors import UsageError


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _check_build(out: Path) -> list[Any]:
    items, _ = load_gold(out / "gold.jsonl")
    corpus = {p.name: _ws(p.read_text(encoding="utf-8")) for p in (out / "corpus").iterdir()}
    for item in items:
        if item.answerable:
            assert item.evidence, item.id
            for e in item.evidence:
                assert e.source in corpus, (item.id, e.source)
                assert _ws(e.quote) in corpus[e.source], item.id
                assert not e.quote.endswith("?")
        else:
            assert not item.evidence and not item.key_facts
        # the question is never written into a document (it would leak into retrieval)
        assert not any(_ws(item.question) in text for text in corpus.values()), item.id
    return items


def test_pubmedqa_build(shared_data: Path, tmp_path: Path) -> None:
    summary = build_pubmedqa(
        tmp_path / "pq", data_root=shared_data, limit=3, distractors=2, unanswerable=1, seed=5
    )
    assert (summary.questions, summary.answerable, summary.unanswerable, summary.documents) == (4, 3, 1, 5)
    items = _check_build(tmp_path / "pq")
    held_out = next(i for i in items if not i.answerable)
    assert not (tmp_path / "pq" / "corpus" / f"{held_out.model_extra['left_out_doc']}.md").exists()
    assert all(i.model_extra.get("final_decision") in ("yes", "no", "maybe") for i in items if i.answerable)
    # same seed, same build; another seed, another sample
    build_pubmedqa(tmp_path / "pq2", data_root=shared_data, limit=3, distractors=2, unanswerable=1, seed=5)
    assert (tmp_path / "pq" / "gold.jsonl").read_bytes() == (tmp_path / "pq2" / "gold.jsonl").read_bytes()
    build_pubmedqa(tmp_path / "pq3", data_root=shared_data, limit=3, distractors=2, seed=6)
    assert (tmp_path / "pq" / "gold.jsonl").read_bytes() != (tmp_path / "pq3" / "gold.jsonl").read_bytes()


def test_medquad_build(shared_data: Path, tmp_path: Path) -> None:
    summary = build_medquad(
        tmp_path / "mq", data_root=shared_data, limit=4, distractors=3, unanswerable=2, seed=1
    )
    assert (summary.answerable, summary.unanswerable) == (4, 2)
    assert summary.documents >= 4 + 3  # gold answers, same-page answers, random ones
    items = _check_build(tmp_path / "mq")
    corpus_text = " ".join(
        p.read_text(encoding="utf-8").lower() for p in (tmp_path / "mq" / "corpus").iterdir()
    )
    for item in items:
        if not item.answerable:
            assert str(item.model_extra["focus"]).lower() not in corpus_text


def test_refuses_to_overwrite_without_force(shared_data: Path, tmp_path: Path) -> None:
    build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=2, distractors=0)
    with pytest.raises(UsageError, match="--force"):
        build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=2, distractors=0)
    summary = build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=1, distractors=0, force=True)
    assert len(list((tmp_path / "pq" / "corpus").iterdir())) == summary.documents == 1


def test_missing_data_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no PubMedQA data"):
        build_pubmedqa(tmp_path / "x", data_root=tmp_path)
    result = CliRunner().invoke(datasets_cli, ["medquad", str(tmp_path / "y"), "--source", str(tmp_path)])
    assert result.exit_code == 2 and "no MedQuAD data" in result.stderr


def test_cli_prints_the_summary(shared_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        datasets_cli,
        [
            "pubmedqa",
            str(tmp_path / "pq"),
            "--limit",
            "2",
            "--distractors",
            "0",
            "--source",
            str(shared_data),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["questions"] == 2
    assert "medcite ingest" in result.stderr


def test_a_built_set_runs_through_the_harness(shared_data: Path, tmp_path: Path, embedder: Any) -> None:
    from eval.runner import EngineBackend, run_eval
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=3, distractors=3, unanswerable=1)
    engine = Engine.open(get_settings(tmp_path / "store"), owner={"command": "pytest"}, embedder=embedder)
    try:
        report = ingest_paths(engine.store, [tmp_path / "pq" / "corpus"])
        assert report.added == 6 and not report.errors
        run = run_eval(tmp_path / "pq" / "gold.jsonl", EngineBackend(engine), resamples=50)
    finally:
        engine.close()
    assert run.n == 4 and run.failures == 0
    assert run.support["source_recall@k"] == 3 and run.metrics["source_recall@k"] is not None
    assert run.metrics["citation_precision"] is None  # silver quotes: evidence is not complete
    assert run.metrics["key_fact_recall"] is None and "key facts" in run.undefined["key_fact_recall"]


# --- fixed-selection adapters: consumer (MedQuAD pages) and nih (demo corpus) -----------------------


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _tiny_medquad(root: Path) -> Path:
    """A three-pair qa.jsonl: page 0000001 (two sections, Foo) and page 0000002 (Bar)."""

    def row(stem: str, pid: int, focus: str, question: str, answer: str) -> dict[str, Any]:
        return {
            "id": f"4_X_QA/{stem}-{pid}",
            "question": question,
            "focus": focus,
            "answer": answer,
            "xml_file": f"4_X_QA/{stem}.xml",
        }

    _write_jsonl(
        root / "medquad" / "qa.jsonl",
        [
            row("0000001", 1, "Foo", "What is (are) Foo ?", "Foo is a rare   thing.\nIt hurts."),
            row("0000002", 1, "Bar", "What is (are) Bar ?", "Bar is another thing."),
            row("0000001", 2, "Foo", "How to treat Foo ?", "Rest helps Foo."),
        ],
    )
    return root


def _selection(path: Path, pages: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"conditions": [{"name": "foo", "pages": pages}]}), encoding="utf-8")
    return path


def _gold(path: Path, quote: str = "Rest helps Foo.", absent: str = "zzz") -> Path:
    return _write_jsonl(
        path,
        [
            {
                "id": "t-001",
                "question": "How do I treat foo?",
                "key_facts": ["Rest"],
                "evidence": [{"source": "medquad__4_X_QA__0000001.md", "quote": quote}],
            },
            {"id": "t-002", "question": "Is bar contagious?", "answerable": False, "absent_terms": [absent]},
        ],
    )


def test_consumer_writes_the_selected_pages_and_copies_the_gold(tmp_path: Path) -> None:
    from eval.datasets.consumer import build_consumer

    data = _tiny_medquad(tmp_path / "data")
    pages = _selection(tmp_path / "pages.json", [{"id": "medquad:4_X_QA/0000001", "title": "Foo"}])
    gold = _gold(tmp_path / "gold.jsonl", quote="Foo is a rare thing.")  # whitespace runs may differ
    summary = build_consumer(tmp_path / "out", data_root=data, pages_file=pages, gold_file=gold)
    assert (summary.documents, summary.questions, summary.answerable, summary.unanswerable) == (1, 2, 1, 1)
    assert summary.seed is None
    files = sorted(p.name for p in (tmp_path / "out" / "corpus").iterdir())
    assert files == ["medquad__4_X_QA__0000001.md"]  # page 0000002 was not selected
    text = (tmp_path / "out" / "corpus" / files[0]).read_text(encoding="utf-8")
    # title line, then the page's sections in file order (the two pairs are not adjacent in the data)
    assert text == (
        "# Foo\n\n## What is (are) Foo ?\nFoo is a rare   thing.\nIt hurts.\n\n## How to treat Foo ?\nRest helps Foo.\n"
    )
    assert (tmp_path / "out" / "gold.jsonl").read_bytes() == gold.read_bytes()


def test_consumer_refuses_a_gold_file_that_does_not_fit_and_writes_nothing(tmp_path: Path) -> None:
    from eval.datasets.consumer import build_consumer

    data = _tiny_medquad(tmp_path / "data")
    pages = _selection(tmp_path / "pages.json", [{"id": "medquad:4_X_QA/0000001", "title": "Foo"}])
    with pytest.raises(UsageError, match="t-001: quote not verbatim"):
        build_consumer(
            tmp_path / "a",
            data_root=data,
            pages_file=pages,
            gold_file=_gold(tmp_path / "g1", "Rest cures Foo."),
        )
    assert not (tmp_path / "a").exists()
    with pytest.raises(UsageError, match="t-002: absent term 'hurts' occurs"):
        build_consumer(
            tmp_path / "b", data_root=data, pages_file=pages, gold_file=_gold(tmp_path / "g2", absent="hurts")
        )
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ([{"id": "medquad:4_X_QA/0000001", "title": "Baz"}], "titled 'Foo'"),
        ([{"id": "medquad:4_X_QA/0000009", "title": "Foo"}], "0000009 is not in"),
        ([{"id": "medquad:4_X_QA/0000001", "title": "Foo"}] * 2, "listed twice"),
        ([{"id": "4_X_QA/0000001", "title": "Foo"}], "not a valid page selection"),
    ],
)
def test_consumer_refuses_a_stale_or_malformed_selection(
    tmp_path: Path, pages: list[dict[str, str]], message: str
) -> None:
    from eval.datasets.consumer import build_consumer

    data = _tiny_medquad(tmp_path / "data")
    with pytest.raises(UsageError, match=message):
        build_consumer(
            tmp_path / "out",
            data_root=data,
            pages_file=_selection(tmp_path / "pages.json", pages),
            gold_file=_gold(tmp_path / "gold.jsonl"),
        )


def test_consumer_build_of_the_dev_selection(shared_data: Path, tmp_path: Path) -> None:
    """The real build through the CLI: every selected page, the dev gold file, byte-for-byte repeatable."""
    from eval.datasets.consumer import GOLD_FILE, PAGES_FILE, load_selection

    runner = CliRunner()
    for out in ("c1", "c2"):
        result = runner.invoke(datasets_cli, ["consumer", str(tmp_path / out), "--source", str(shared_data)])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    pages = [page for condition in load_selection(PAGES_FILE).conditions for page in condition.pages]
    wanted = {f"{p.id.replace(':', '__').replace('/', '__')}.md" for p in pages}
    written = {p.name for p in (tmp_path / "c1" / "corpus").iterdir()}
    assert written == wanted and summary["documents"] == len(wanted) == 40
    for name in written:
        first = (tmp_path / "c1" / "corpus" / name).read_bytes()
        assert first == (tmp_path / "c2" / "corpus" / name).read_bytes()
        assert first.startswith(b"# ") and b"\n\n## " in first
    assert (tmp_path / "c1" / "gold.jsonl").read_bytes() == GOLD_FILE.read_bytes()
    _check_build(tmp_path / "c1")
    again = runner.invoke(datasets_cli, ["consumer", str(tmp_path / "c1"), "--source", str(shared_data)])
    assert again.exit_code == 2 and "--force" in again.stderr


def test_nih_writes_every_document(tmp_path: Path) -> None:
    from eval.datasets.nih import DOCS_FILE, build_nih

    docs = [
        {"doc_id": "medquad:4_X_QA/0000001", "title": "Foo", "text": "## What is Foo?\nRest helps Foo."},
        {"doc_id": "medquad:4_X_QA/0000002", "title": "Bar", "text": "## What is Bar?\nBar is rare."},
    ]
    _write_jsonl(tmp_path / "data" / DOCS_FILE, docs)
    summary = build_nih(
        tmp_path / "out", data_root=tmp_path / "data", gold_file=_gold(tmp_path / "gold.jsonl")
    )
    assert (summary.dataset, summary.documents, summary.questions) == ("nih", 2, 2)
    assert (tmp_path / "out" / "corpus" / "medquad__4_X_QA__0000002.md").read_text(encoding="utf-8") == (
        "# Bar\n\n## What is Bar?\nBar is rare.\n"
    )
    _write_jsonl(tmp_path / "dup" / DOCS_FILE, [docs[0], {**docs[1], "doc_id": "medquad:4_X_QA:0000001"}])
    with pytest.raises(UsageError, match="same file name"):
        build_nih(tmp_path / "out2", data_root=tmp_path / "dup", gold_file=_gold(tmp_path / "gold.jsonl"))


def test_nih_build_of_the_demo_corpus(shared_data: Path, tmp_path: Path) -> None:
    from eval.datasets.nih import GOLD_FILE, build_nih

    summary = build_nih(tmp_path / "n", data_root=shared_data)
    assert summary.documents == 110 and summary.questions >= 12
    files = sorted((tmp_path / "n" / "corpus").iterdir())
    assert len(files) == 110 and all(p.name.startswith("medquad__") and p.suffix == ".md" for p in files)
    assert (tmp_path / "n" / "gold.jsonl").read_bytes() == GOLD_FILE.read_bytes()
    _check_build(tmp_path / "n")


def test_fixed_adapters_report_missing_data(tmp_path: Path) -> None:
    runner = CliRunner()
    for command, message in (("consumer", "no MedQuAD data"), ("nih", "no NIH demo corpus")):
        result = runner.invoke(datasets_cli, [command, str(tmp_path / command), "--source", str(tmp_path)])
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert not (tmp_path / command).exists()
