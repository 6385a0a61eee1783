"""Two topics on one small corpus of NIH-style pages: items stay on their topic, sources named by title.

The three pages are short excerpts in the style of the public NIH pages on these conditions (NHLBI,
NIDDK), kept here so the test needs no shared data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa_service.quiz import QuizError
from qa_service.quiz.checks import text_contains
from qa_service.quiz.generate import build_report
from qa_service.quiz.grammar import check_stem
from qa_service.quiz.quantities import parse_option

PAGES = {
    "pa-mqp00017.md": """# Pernicious Anemia

## What causes pernicious anemia?

Pernicious anemia is caused by a lack of intrinsic factor. Intrinsic factor is a protein made in the stomach.
Without intrinsic factor, the body cannot absorb vitamin B12 from food.
Pernicious anemia usually develops in adults older than 30 years.
About 2% of adults older than 60 years have pernicious anemia.

## How is pernicious anemia treated?

Doctors treat pernicious anemia with vitamin B12 shots or pills.
People with pernicious anemia usually receive 1000 mcg of vitamin B12 by injection every month.
Symptoms of pernicious anemia often improve within 3 days of the first injection.
Risk factors for pernicious anemia include autoimmune disorders, stomach surgery, and a family history of the disease.
""",
    "ida-mqp00212.md": """# Iron-Deficiency Anemia

## What causes iron-deficiency anemia?

Iron-deficiency anemia is caused by a lack of iron in the body.
Blood loss, a poor diet, and an inability to absorb iron can cause iron-deficiency anemia.
Women need 18 mg of iron each day.
About 20% of women of childbearing age have iron-deficiency anemia.

## How is iron-deficiency anemia treated?

Doctors treat iron-deficiency anemia with iron supplements and changes in diet.
Iron supplements usually restore iron levels within 3 to 6 months.
Signs of iron-deficiency anemia include fatigue, pale skin, and cold hands and feet.
""",
    "cd-mqp00931.md": """# Celiac Disease

## What is celiac disease?

Celiac disease is caused by a reaction to gluten in the small intestine.
About 1% of people in the United States have celiac disease.
Symptoms of celiac disease include diarrhea, bloating, and weight loss.

## How is celiac disease treated?

Doctors treat celiac disease with a gluten-free diet.
The small intestine usually heals within 3 to 6 months on a gluten-free diet.
Adults with celiac disease may need 1 to 2 years for the intestine to heal completely.
""",
}
TITLES = {"pa-mqp00017.md": "Pernicious Anemia", "ida-mqp00212.md": "Iron-Deficiency Anemia",
          "cd-mqp00931.md": "Celiac Disease"}


@pytest.fixture(scope="module")
def pages_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Any]:
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    root = tmp_path_factory.mktemp("nih-pages")
    folder = root / "corpus"
    folder.mkdir()
    for name, text in PAGES.items():
        (folder / name).write_text(text, encoding="utf-8")
    engine = Engine.open(get_settings(root / "store"), owner={"command": "pytest"}, embedder=embedder)
    report = ingest_paths(engine.store, [Path(folder)])
    assert report.added == 3, report
    yield engine
    engine.close()


@pytest.mark.parametrize(("topic", "page"), [("pernicious anemia", "pa-mqp00017.md"), ("celiac disease", "cd-mqp00931.md")])
def test_items_stay_on_their_topic(pages_engine: Any, topic: str, page: str) -> None:
    report = build_report(pages_engine, topic, n=5, seed=0)
    items = report.items
    assert len(items) >= 2, [r.check for r in report.rejected]
    keys = set()
    for it in items:
        cited = it.citations[0]
        assert cited.source == page, (topic, it.stem, cited.text)  # the iron page is not about pernicious anemia
        assert "mqp" not in it.stem and TITLES[page] in it.stem  # named by title, never by file name
        assert check_stem(it.stem) is None, it.stem
        assert text_contains(cited.text, it.options[it.answer_index])
        for i, o in enumerate(it.options):
            a = parse_option(o)
            if a is not None and a.pint_unit == "percent":
                assert 0 <= a.low and a.high <= 100, o  # no impossible share
            if i != it.answer_index:
                assert not text_contains(cited.text, o)
        keys.add((cited.doc_id, cited.start))
    assert len(keys) == len(items)


def test_rejections_name_their_check(pages_engine: Any) -> None:
    report = build_report(pages_engine, "pernicious anemia", n=5, seed=0)
    off = [r for r in report.rejected if r.check.startswith("off_topic")]
    assert off and all(r.source != "Pernicious Anemia" for r in off)


def test_a_topic_the_pages_do_not_cover(pages_engine: Any) -> None:
    with pytest.raises(QuizError, match="do not cover"):
        build_report(pages_engine, "treatment of community-acquired pneumonia in adults", n=5)
