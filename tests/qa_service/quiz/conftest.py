"""One quiz built per session on the session's corpus engine (building one takes seconds)."""

from __future__ import annotations

import re
from typing import Any

import pytest

TOPIC = "vitamin B12 deficiency in infants"

# GIFT multiple choice: optional ::title::, the stem, then {=right ~wrong ... ####general feedback}.
_GIFT_ESCAPED = r"(?:[^~=#{}:\\]|\\[~=#{}:\\])"
GIFT_QUESTION = re.compile(
    rf"^(?:::(?P<title>{_GIFT_ESCAPED}+)::\s*)?(?P<stem>{_GIFT_ESCAPED}+?)\s*\{{\s*"
    rf"(?P<answers>(?:[=~]{_GIFT_ESCAPED}+(?:#{_GIFT_ESCAPED}*)?\s*)+)"
    rf"(?:####(?P<general>{_GIFT_ESCAPED}*))?\s*\}}$",
    re.DOTALL,
)
GIFT_ANSWER = re.compile(
    rf"(?P<mark>[=~])(?P<text>{_GIFT_ESCAPED}+?)(?:#(?P<feedback>{_GIFT_ESCAPED}*))?\s*(?=[=~]|$)", re.DOTALL
)


def parse_gift(text: str) -> list[dict[str, Any]]:
    """A small validator of GIFT's multiple-choice form: raises AssertionError on anything else."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    questions = []
    for block in [b.strip() for b in re.split(r"\n\s*\n", body) if b.strip()]:
        m = GIFT_QUESTION.match(block)
        assert m, f"not a GIFT multiple-choice question:\n{block}"
        answers = [a.groupdict() for a in GIFT_ANSWER.finditer(m.group("answers").strip())]
        assert answers, block
        questions.append(
            {
                "title": m.group("title"),
                "stem": m.group("stem"),
                "answers": answers,
                "general": m.group("general"),
            }
        )
    return questions


def gift_unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:\\])", r"\1", text).strip()


@pytest.fixture(scope="session")
def quiz(corpus_engine: Any) -> list[Any]:
    from qa_service.quiz import build_quiz

    return build_quiz(corpus_engine, TOPIC, n=10, seed=0)
