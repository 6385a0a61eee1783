"""Word-level text analysis shared by the composer, the citation check and abstention.

One place decides what a "content word" is: the lexical index's own analysis
(lower case, Snowball stems, ``ingest.lexical.stem_terms``) minus English function
words (spaCy's English stop words, plus ``qa_service/data/stopwords.txt``) and
numbers (numbers are compared as quantities, :mod:`qa_service.quantities`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ingest.lexical import stem_terms
from qa_service.quantities import NUMBER_WORDS


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """English function words, lower case: spaCy's list (no model needed) and our own few additions."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = {w.lower() for w in STOP_WORDS}
    for line in (Path(__file__).parent / "data" / "stopwords.txt").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.update(w.lower() for w in line.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def stopword_stems() -> frozenset[str]:
    """Stems of English function words."""
    return frozenset(st for w in function_words() for st in stem_terms(w.replace("'", " ")))


def content_stems(text: str) -> set[str]:
    """Stems of the content words of ``text`` (function words and bare numbers left out)."""
    stop = stopword_stems()
    return {t for t in stem_terms(text) if t not in stop and not t.replace(".", "").isdigit() and t not in NUMBER_WORDS}
