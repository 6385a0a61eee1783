"""What a question is about, read without any table of the domain.

``analyse_question`` turns the question into *terms*: each content word with the
stems of its spelling variants (British and American spellings from ``breame``:
haemoglobin / hemoglobin, anaemia / anemia), the joined form of a hyphenated word
(work-up / workup), and how specific the word is in general English (``wordfreq``:
"hydroxocobalamin" is rare, "recommended" is common). The corpus then says how
informative each term is (document frequency in the lexical index).

It also splits a multi-part question ("How was he treated and how did he respond?")
into its parts, so that an answer covers each of them, and tells a yes/no question
by its grammar (it opens with an auxiliary verb).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ingest.lexical import stem_terms
from qa_service.text import function_words

_WORD = re.compile(r"[A-Za-zÀ-ÿ][\w'’-]*")
_AUXILIARIES = frozenset(
    "is are was were do does did can could should would will shall may might must has have had".split()
)
_WH = frozenset("what which who whom whose when where why how".split())
# Zipf frequency (wordfreq) at or above which a word is everyday English rather than a term of the field.
COMMON_ZIPF = 4.5


@lru_cache(maxsize=65536)
def spelling_variants(word: str) -> tuple[str, ...]:
    """The word and its other (British / American) spelling, lower case."""
    from breame.spelling import get_american_spelling, get_british_spelling  # type: ignore[import-untyped]

    w = word.lower()
    out = {w}
    for fn in (get_american_spelling, get_british_spelling):
        try:
            v = fn(w)
        except Exception:  # breame raises on odd input; the word stands as it is
            continue
        if v and v.isalpha():
            out.add(v.lower())
    return tuple(sorted(out))


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """How common the word is in general English (0 = unknown, 7 = "the")."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word.lower(), "en"))


@lru_cache(maxsize=65536)
def word_stems(word: str) -> frozenset[str]:
    """Stems of a word under every spelling variant (what the lexical index would store); a unit of
    measurement also stands for its other spellings (micrograms = mcg = μg = ug, from pint)."""
    out: set[str] = set()
    for v in spelling_variants(word):
        out.update(stem_terms(v))
    out.update(unit_spellings(word))
    return frozenset(out)


@lru_cache(maxsize=4096)
def unit_spellings(word: str) -> frozenset[str]:
    """Every spelling of a unit of mass, volume or time pint reads ``word`` as (empty for other words)."""
    import unicodedata

    from qa_service.quantities import unit_registry

    w = word.strip()
    if len(w) < 2 or not any(c.isalpha() for c in w):
        return frozenset()
    ureg = unit_registry()
    try:
        unit = ureg.parse_units(w)
    except Exception:  # pint's parse errors: not a unit
        return frozenset()
    if len(unit._units) != 1 or (
        str(unit.dimensionality) not in {"[mass]", "[length] ** 3", "[time]", "[substance]"}
    ):
        return frozenset()
    name = str(unit)
    symbol = unicodedata.normalize("NFKC", ureg.get_symbol(name))
    forms = {name, f"{name}s", symbol}
    if symbol.startswith("μ"):
        forms |= {"u" + symbol[1:], "mc" + symbol[1:], "\u00b5" + symbol[1:]}  # also the micro sign µ
    return frozenset(t.lower() for f in forms for t in ([f] if len(f) < 3 else stem_terms(f) or [f]))


def normalised_stems(text: str) -> set[str]:
    """Stems of every word of ``text``, British spellings folded into American ones as well."""
    out: set[str] = set()
    for w in _WORD.findall(text):
        for part in w.replace("’", "'").split("-"):
            if part:
                out.update(word_stems(part))
        if "-" in w:
            out.update(stem_terms(w.replace("-", "")))
    return out


@dataclass
class Term:
    """One content word of the question and the stems that count as it."""

    word: str
    stems: frozenset[str]
    zipf: float
    df: int = 0  # documents (chunks) of the corpus that use it, best variant
    idf: float = 0.0
    neighbours: tuple[str, ...] = ()  # corpus words close in meaning, for a word the corpus never uses
    name: bool = False  # a designated name ("vitamin D"), matched as written
    related: bool = False  # unused by the corpus, but a word of its family is ("neutrophil" / "neutropenia")

    @property
    def specific(self) -> bool:
        """A term of the field rather than everyday English (weighs in coverage and abstention)."""
        return self.zipf < COMMON_ZIPF


@dataclass
class QuestionAnalysis:
    """Terms, parts and grammatical type of a question."""

    text: str
    terms: list[Term]
    parts: list[list[int]]  # indices into ``terms``, one list per part (one part for most questions)
    yes_no: bool
    wh: str | None
    extra: dict[str, float] = field(default_factory=dict)
    # names made of a word and a one-letter designator ("vitamin D", "hepatitis B", "factor V"): the
    # letter alone is no term, yet it is what tells the thing asked about from its siblings
    names: list[str] = field(default_factory=list)
    df: dict[str, int] = field(default_factory=dict)  # stems' document frequencies seen so far

    def stems(self) -> set[str]:
        return {s for t in self.terms for s in t.stems}

    def weigh(self, df: Mapping[str, int], n_docs: int) -> None:
        """Add document frequencies of stems (from the corpus's lexical index) and set each term's
        df (its best-attested stem) and IDF."""
        self.df.update(df)
        for t in self.terms:
            t.df = max((self.df.get(s, 0) for s in t.stems), default=0)
            t.idf = math.log(1 + (n_docs + 1) / (t.df + 0.5))

    def lookup_words(self, terms: Sequence[Term] | None = None) -> str:
        """Text whose analysis gives every stem of the terms (for the index's term statistics)."""
        words: set[str] = set()
        for t in self.terms if terms is None else terms:
            words.update(t.stems)
            words.update(p for p in re.split(r"[-'’]", t.word.lower()) if p)
            words.update(t.neighbours)
        return " ".join(sorted(words))

    def add_missing_name(self, name: str, n_docs: int) -> None:
        """A designated name ("vitamin D") the retrieved evidence never states: a term no sentence covers."""
        self.terms.append(Term(word=name, stems=frozenset({name.lower()}), zipf=zipf(name.lower()), df=0,
                               idf=math.log(1 + (n_docs + 1) / 0.5), name=True))

    def missing(self) -> list[Term]:
        """Terms no document of the corpus uses under any spelling."""
        return [t for t in self.terms if t.df == 0]


def analyse_question(question: str) -> QuestionAnalysis:
    """Terms (content words with their variants), parts and type of ``question``."""
    stop = function_words()
    words = _WORD.findall(question)
    lowered = [w.lower().strip("'’") for w in words]
    terms: list[Term] = []
    seen: dict[frozenset[str], int] = {}
    index_of_word: list[int | None] = []
    for w, low in zip(words, lowered, strict=True):
        lw = re.sub(r"['’]s$", "", low)  # the infant's -> infant
        if lw in stop or lw in _WH or len(lw) < 2 or lw.isdigit():
            index_of_word.append(None)
            continue
        stems = set(word_stems(lw.split("-")[0])) if "-" not in lw else set()
        if "-" in lw:  # work-up: each part, and the joined spelling
            for part in lw.split("-"):
                if part and part not in stop:
                    stems.update(word_stems(part))
            stems.update(stem_terms(lw.replace("-", "")))
        if not stems:
            index_of_word.append(None)
            continue
        key = frozenset(stems)
        if key not in seen:
            seen[key] = len(terms)
            terms.append(
                Term(word=w, stems=key, zipf=min((zipf(p) for p in lw.split("-") if p), default=0.0))
            )
        index_of_word.append(seen[key])
    parts = _parts(words, lowered, index_of_word, len(terms))
    first = lowered[0] if lowered else ""
    names = [
        f"{words[i - 1]} {w}" for i, w in enumerate(words)
        if i and len(w) == 1 and w.isalpha() and lowered[i] not in stop and index_of_word[i - 1] is not None
    ]
    return QuestionAnalysis(
        text=question,
        terms=terms,
        parts=parts,
        yes_no=first in _AUXILIARIES,
        wh=next((w for w in lowered if w in _WH), None),
        names=names,
    )


def _parts(
    words: list[str], lowered: list[str], index_of_word: list[int | None], n_terms: int
) -> list[list[int]]:
    """Split at "and"/"or"/";" where both sides ask something of their own (a wh-word or an auxiliary
    opens the second side, or each side has two terms of its own): "how was he treated and how did he
    respond" has two parts; "signs and symptoms of X" has one."""
    cuts: list[int] = []
    for i, w in enumerate(lowered):
        if w not in {"and", "or"} or i == 0 or i + 1 >= len(lowered):
            continue
        nxt = lowered[i + 1]
        if nxt in _WH or nxt in _AUXILIARIES:
            cuts.append(i)
    if not cuts:
        return [list(range(n_terms))]
    bounds = [0, *cuts, len(words)]
    parts: list[list[int]] = []
    for a, b in itertools.pairwise(bounds):
        idx = sorted({j for j in index_of_word[a:b] if j is not None})
        if idx:
            parts.append(idx)
    return parts if len(parts) > 1 else [list(range(n_terms))]
