"""The harness's own support judge: independent of the engine's check, and able to fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from eval.judge import judge_support

DOSE = ["Parenteral therapy was initiated (1 mg three times per week)."]


@pytest.mark.parametrize(
    ("statement", "evidence", "supported"),
    [
        ("Parenteral therapy was initiated (1 mg three times per week).", DOSE, True),
        ("  • Infants up to 12 months: 0.3 μg/kg/day", ["• Infants up to 12 months: 0.3 μg/kg/day 1"], True),
        ("Parenteral therapy of 1000 μg three times per week was initiated.", DOSE, True),
        ("Parenteral therapy of 5 mg three times per week was initiated.", DOSE, False),
        ("Parenteral therapy was not initiated.", DOSE, False),
        ("Oral supplements were given daily by the mother.", DOSE, False),
        ("Parenteral therapy was initiated.", [], False),
        ("", DOSE, False),
    ],
)
def test_judge(statement: str, evidence: list[str], supported: bool) -> None:
    assert judge_support(statement, evidence) is supported


def test_the_judge_imports_nothing_of_the_engine() -> None:
    tree = ast.parse((Path(__file__).resolve().parents[2] / "eval" / "judge.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m.split(".")[0] == "qa_service" for m in modules)
