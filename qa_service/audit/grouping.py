"""Which served answers are "the same ask": one review covers them all.

Two answers fall in one group when the question is the same (after Unicode, case and whitespace
normalisation), and so are the configuration hash, the corpus version, the generator and what the
answer says (its text, statements, citation spans and conflicts). With the extractive answerer the
last two follow from the first three, so this is the issue's "same question, configuration and
corpus"; a generative answerer may word one question differently twice, and a review of one
wording must not approve another.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any


def normalise_question(question: str) -> str:
    """NFKC, case-folded, whitespace collapsed, trailing question marks and spaces dropped."""
    text = " ".join(unicodedata.normalize("NFKC", question).casefold().split())
    return text.rstrip(" ?？")


def answer_digest(answer: dict[str, Any]) -> str:
    """A hash of what an answer says (not its id, latency or scores)."""
    content = {
        "abstained": answer.get("abstained"),
        "answer": answer.get("answer"),
        "statements": [(s.get("text"), s.get("citations")) for s in answer.get("statements", [])],
        "citations": [
            (c.get("id"), c.get("doc_id"), c.get("start"), c.get("end")) for c in answer.get("citations", [])
        ],
        "conflicts": [c.get("description") for c in answer.get("conflicts", [])],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def group_key(
    question: str, config_hash: str, corpus_version: str, generator: str, answer: dict[str, Any]
) -> str:
    """The group an answer belongs to (64 hex characters)."""
    parts = [normalise_question(question), config_hash, corpus_version, generator, answer_digest(answer)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
