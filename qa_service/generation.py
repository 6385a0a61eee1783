"""Who writes the answer text: the ``Generator`` protocol and its two implementations.

- :class:`ExtractiveGenerator` (the default): the composer's chosen source sentences,
  rendered by ``Engine._build_answer``. Unchanged behaviour.
- :class:`LLMGenerator`: a LangChain chat model (``qa_service.llm``) writes statements
  from the numbered evidence sentences of the same draft, and every statement is
  verified before it is shown:

  1. the evidence: the draft's best sentences (``generation.evidence_sentences``), with
     sentences that address the answering system ("ignore previous instructions")
     screened out, numbered [1]..[n] and placed in a delimited data block;
  2. the call: an LCEL chain ``prompt | model``, the reply constrained to a JSON schema
     where the model supports it (llama.cpp grammars, OpenAI ``json_schema``, Ollama
     ``format``), streamed so a time limit can stop it; retries of transient errors
     with tenacity;
  3. the parser: JSON when there is JSON (fenced, truncated or bare lists too), plain
     text with ``[n]`` markers otherwise;
  4. the check: every statement needs markers, every marker must name evidence that
     was given, and the cited sentences must support it (``support_verdict``); a
     statement that fails is dropped and kept in ``Answer.dropped_statements`` with
     its reason;
  5. the fallback: no surviving statement, a time-out or an error give the extractive
     answer, with ``Answer.fallback`` saying why (and logged). Never an exception.

Abstention is decided before the model is asked (the same rule as the extractive
path): a model never turns "not enough evidence" into an answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.utils.json import parse_partial_json
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ingest.settings import Settings
from qa_service import prompts
from qa_service.answering import Draft, Sentence, clean_statement_text, group_label
from qa_service.models import Answer, Citation, DroppedStatement, GenerationFallback, Statement
from qa_service.verify import check_support

if TYPE_CHECKING:
    from qa_service.engine import Engine
    from qa_service.llm import ChatBackend

logger = logging.getLogger(__name__)


class Generator(Protocol):
    """Writes the answer for a composed draft; ``name`` is what ``Answer.generator`` says."""

    name: str

    def answer(self, question: str, draft: Draft, engine: Engine) -> Answer:
        """The answer to ``question`` from ``draft`` (an abstention when the evidence does not answer)."""
        ...


class ExtractiveGenerator:
    """The default: every statement is a source sentence the composer chose."""

    name = "extractive"

    def answer(self, question: str, draft: Draft, engine: Engine) -> Answer:
        return engine._build_answer(question, draft)


# ------------------------------------------------------------------ the citation check
def support_verdict(statement: str, cited_texts: Sequence[str], embedder: Any | None = None) -> str | None:
    """None when the cited texts support ``statement``, else the reason it is not supported.

    The one place the generator asks the citation check (``qa_service.verify.check_support``:
    numbers and units, negation, subject, content words, and dense similarity with an embedder).
    """
    verdict = check_support(statement, list(cited_texts), embedder=embedder)
    return None if verdict.supported else (verdict.reason or "the cited sentences do not support it")


_TOKEN = re.compile(r"\w+(?:[.,/–-]\w+)*")


def repetition(statement: str, cited_texts: Sequence[str]) -> str | None:
    """Why ``statement`` is a decoding loop, or None: a word or number used three times or more, and more
    often than the cited sentences use it ("1000 1000 1000 ...", "2-6 weeks 2-6 weeks ...").

    The citation check judges what a statement says, not how often: a small model's loop over words of
    its source passes it (measured with SmolLM2-135M: README "Generative answers"). Restating a source
    never needs a word more often than the source has it, so this is no limit on a capable model.
    """
    said = Counter(t.lower() for t in _TOKEN.findall(statement))
    source = Counter(t.lower() for t in _TOKEN.findall(" ".join(cited_texts)))
    loops = [(w, n) for w, n in said.most_common() if n >= 3 and n > source[w]]
    if not loops:
        return None
    word, times = loops[0]
    return f"repeats {word!r} {times} times (the cited text has it {source[word]} times): a decoding loop"


# ------------------------------------------------------------------ parsing the reply
@dataclass
class RawStatement:
    """One statement as the model wrote it, before any check."""

    text: str
    citations: list[int]
    problem: str | None = None  # set by the parser: why this cannot be a statement


@dataclass
class ParsedReply:
    statements: list[RawStatement]
    form: str  # "json", "json-truncated", "text", "empty"


_MARKER_GROUP = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*)\s*\]")
_LEAD = re.compile(
    r"^\s*(?:[-•*▪]|\d{1,2}[.)]|bottom line\s*:|answer\s*:|statement\s*\d*\s*:)\s*", re.IGNORECASE
)
_TEXT_KEYS = ("text", "statement", "claim", "sentence", "content", "answer")
_CITE_KEYS = ("citations", "citation", "cites", "cite", "sources", "source", "evidence", "refs", "references")


def _numbers_in_marker(inner: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner):
        if re.fullmatch(r"\d{1,3}\s*[-–]\s*\d{1,3}", part):
            lo, hi = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if 0 < hi - lo < 10:
                out.extend(range(lo, hi + 1))
                continue
        if part.strip().isdigit():
            out.append(int(part))
    return out


def split_markers(text: str) -> tuple[str, list[int]]:
    """Text without its ``[n]`` markers, and the numbers they held (in order, once each)."""
    found: list[int] = []
    for m in _MARKER_GROUP.finditer(text):
        found.extend(_numbers_in_marker(m.group(1)))
    bare = _MARKER_GROUP.sub("", text)
    bare = re.sub(r"\s+([.,;:])", r"\1", bare)
    return " ".join(bare.split()).strip(), list(dict.fromkeys(found))


def _as_ints(value: Any) -> list[int] | None:
    """Citation numbers from what a model put in a citations field (None: not numbers at all)."""
    if value is None:
        return []
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value]
    if isinstance(value, float) and value.is_integer():
        return [int(value)]
    if isinstance(value, str):
        nums = _numbers_in_marker(value.strip().strip("[]"))
        return nums if nums or not value.strip() else None
    if isinstance(value, list):
        out: list[int] = []
        for v in value:
            got = _as_ints(v)
            if got is None:
                return None
            out.extend(got)
        return out
    return None


def _from_item(item: Any) -> RawStatement | None:
    if isinstance(item, str):
        bare, found = split_markers(item)
        return RawStatement(bare, found)
    if not isinstance(item, dict):
        return None
    text_value = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
    if text_value is None:
        return None
    text, in_text = split_markers(text_value)
    raw_cites = next((item[k] for k in _CITE_KEYS if k in item), None)
    cites = _as_ints(raw_cites)
    if cites is None:
        return RawStatement(
            text, in_text, problem=f"its citations are not numbers ({json.dumps(raw_cites)[:60]})"
        )
    return RawStatement(text, list(dict.fromkeys(cites + in_text)))


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("statements", "answer", "answers", "claims", "items"):
            value = data.get(key)
            if isinstance(value, list):
                return value
        if any(k in data for k in _TEXT_KEYS):
            return [data]
    return None


def parse_reply(reply: str) -> ParsedReply:
    """Statements from whatever the model wrote: JSON (also fenced or cut off) or text with markers."""
    text = reply.strip()
    if not text:
        return ParsedReply([], "empty")
    start = min((i for i in (text.find("{"), text.find("[{"), text.find('["')) if i >= 0), default=-1)
    if start >= 0:
        candidate = text[start:]
        data: Any = None
        form = "json"
        try:
            data, _ = json.JSONDecoder().raw_decode(candidate)
        except json.JSONDecodeError:
            data = parse_partial_json(candidate)
            form = "json-truncated"
        items = _items(data) if data is not None else None
        if items is not None:
            out = [st for st in (_from_item(i) for i in items) if st is not None and st.text]
            if form == "json-truncated" and out:
                out[-1].problem = "cut off: the model's reply ended inside this statement"
            return ParsedReply(out, form)
    return ParsedReply(_parse_text(text), "text")


def _parse_text(text: str) -> list[RawStatement]:
    """Plain text: each sentence or line, with the markers that follow it."""
    out: list[RawStatement] = []
    for raw_line in text.splitlines():
        line = _LEAD.sub("", raw_line).strip()
        if not line or (line.endswith(":") and not _MARKER_GROUP.search(line)):
            continue  # empty lines and headings
        # a statement runs up to its markers (and the full stop after them)
        pos = 0
        for m in re.finditer(r"(?:\s*" + _MARKER_GROUP.pattern + r")+\s*[.;]?", line):
            chunk = line[pos : m.end()]
            pos = m.end()
            body, cites = split_markers(chunk)
            if len(body) >= 3:
                out.append(RawStatement(body, cites))
        rest = line[pos:].strip()
        if len(rest) >= 12:
            out.append(RawStatement(rest, []))
    return out


# ------------------------------------------------------------------ the generator
class LLMTimeoutError(Exception):
    """The model did not answer within ``generation.timeout_s``."""


@dataclass
class Verified:
    shown: list[tuple[str, list[int]]] = field(default_factory=list)  # text, evidence numbers (1-based)
    dropped: list[DroppedStatement] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.]+", " ", text.lower()).split()).rstrip(".")


class LLMGenerator:
    """Statements written by a chat model from the draft's evidence, each verified before it is shown."""

    def __init__(self, backend: ChatBackend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings
        self.name = backend.name
        self.prompt = prompts.answer_prompt()
        self._lock = threading.Lock()  # held around calls of a model that must not run concurrently
        self._form = 0  # which of the backend's structured-output forms the server accepts
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="medcite-llm")

    def health(self) -> str | None:
        """None when the model answers, else why not."""
        return self.backend.health()

    # -- evidence
    def screened(self, draft: Draft) -> Draft:
        """The draft without sentences that speak to the answering system (also for the fallback answer)."""
        chosen = [
            s for s in [draft.bottom_line, *(s for _, grp in draft.groups for s in grp)] if s is not None
        ]
        flagged: set[tuple[str, int, int]] = set()
        for s in [*chosen, *draft.pool]:
            reason = prompts.injection_reason(s.text) if s.key not in flagged else None
            if reason is not None:
                flagged.add(s.key)
                logger.warning(
                    "sentence not used: possible prompt injection",
                    extra={"doc_id": s.doc_id, "start": s.start, "end": s.end, "reason": reason},
                )
        if not flagged:
            return draft
        groups = [(label, [s for s in grp if s.key not in flagged]) for label, grp in draft.groups]
        groups = [(label, grp) for label, grp in groups if grp]
        bottom = draft.bottom_line
        if bottom is not None and bottom.key in flagged:
            bottom = None
            if groups:  # the best remaining chosen sentence becomes the bottom line
                rank = {s.key: i for i, s in enumerate(draft.pool)}
                bottom = min((s for _, grp in groups for s in grp), key=lambda s: rank.get(s.key, len(rank)))
                groups = [(label, [s for s in grp if s is not bottom]) for label, grp in groups]
                groups = [(label, grp) for label, grp in groups if grp]
        return replace(
            draft, bottom_line=bottom, groups=groups, pool=[s for s in draft.pool if s.key not in flagged]
        )

    def evidence(self, draft: Draft) -> list[Sentence]:
        """The best distinct sentences of the draft, injection attempts screened out, best first."""
        g = self.settings.generation
        chosen = [
            s for s in [draft.bottom_line, *(s for _, grp in draft.groups for s in grp)] if s is not None
        ]
        rank = {s.key: i for i, s in enumerate(draft.pool)}
        chosen.sort(key=lambda s: rank.get(s.key, len(rank)))
        merged = {m.key for s in chosen for m in s.merged}
        chosen_keys = {s.key for s in chosen}
        seen_text = {_norm(clean_statement_text(s.text)) for s in chosen}
        floor = self.settings.answer.min_sentence_score
        extra: list[Sentence] = []
        for s in draft.pool:
            if len(chosen) + len(extra) >= g.evidence_sentences or s.score < floor:
                break
            t = _norm(clean_statement_text(s.text))
            if s.key in merged or s.key in chosen_keys or t in seen_text:
                continue
            seen_text.add(t)
            extra.append(s)
        return [s for s in chosen + extra if prompts.injection_reason(s.text) is None][: g.evidence_sentences]

    # -- the call
    def _runnable(self, evidence: Sequence[str], form: int) -> Any:
        """``prompt | model``, the model bound to the ``form``-th way of asking for the JSON schema (if
        any)."""
        bindings = self.backend.schema_bindings
        extra = self.backend.call_kwargs
        if form >= len(bindings):
            return self.prompt | (self.backend.model.bind(**extra) if extra else self.backend.model)
        g = self.settings.generation
        schema = prompts.answer_schema(evidence, g.max_statements, g.anchor_words)
        return self.prompt | self.backend.model.bind(**extra, **bindings[form](schema))

    def _stream_once(self, runnable: Any, inputs: dict[str, Any], cancel: threading.Event) -> str:
        parts: list[str] = []
        for chunk in runnable.stream(inputs):
            if cancel.is_set():  # closing the stream stops a local model mid-generation
                break
            content = chunk.content
            parts.append(content if isinstance(content, str) else "".join(str(c) for c in content))
        return "".join(parts)

    def _call(self, evidence: Sequence[str], inputs: dict[str, Any], cancel: threading.Event) -> str:
        g = self.settings.generation
        retrying = Retrying(
            stop=stop_after_attempt(g.retries + 1),
            retry=retry_if_exception(
                lambda e: isinstance(e, self.backend.transient) and not self.backend.rejects(e)
            ),
            wait=wait_exponential(multiplier=0.5, max=4),
            reraise=True,
        )
        forms = len(self.backend.schema_bindings)
        with self._lock if self.backend.serialize else nullcontext():
            # a server that rejects one way of asking for structured output is asked the next way, then
            # plainly
            for form in range(self._form, forms + 1):
                try:
                    for attempt in retrying:
                        with attempt:
                            if cancel.is_set():
                                raise LLMTimeoutError()
                            return self._stream_once(self._runnable(evidence, form), inputs, cancel)
                except Exception as exc:
                    if form == forms or not self.backend.rejects(exc):
                        raise
                    logger.warning(
                        "the model server rejected this form of structured output; using the next one",
                        extra={"llm": self.name, "form": form, "error": str(exc)[:200]},
                    )
                    self._form = max(self._form, form + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def generate(self, question: str, evidence: Sequence[Sentence]) -> str:
        """The model's raw reply for these evidence sentences; LLMTimeoutError or the model's error
        otherwise."""
        texts = [clean_statement_text(s.text) for s in evidence]
        inputs = {
            "question": prompts.defuse(question),
            "evidence": prompts.format_evidence(
                [(t, s.section, s.source) for t, s in zip(texts, evidence, strict=True)]
            ),
            "max_statements": self.settings.generation.max_statements,
        }
        cancel = threading.Event()
        future = self._pool.submit(self._call, texts, inputs, cancel)
        try:
            return future.result(timeout=self.settings.generation.timeout_s)
        except FutureTimeout:
            cancel.set()
            future.cancel()
            raise LLMTimeoutError() from None

    # -- verification
    def verify(
        self, reply: ParsedReply, evidence: Sequence[Sentence], embedder: Any | None = None
    ) -> Verified:
        """Which statements may be shown; the others with the reason they were dropped."""
        out = Verified()
        n = len(evidence)
        limit = min(self.settings.generation.max_statements, self.settings.answer.max_statements)
        shown_norm: list[str] = []
        for st in reply.statements:
            key = _norm(st.text)
            if any(key == k or (len(key) > 20 and key in k) for k in shown_norm):
                # said already: skipped, not "dropped" (it failed no check, and its text is in the answer)
                logger.debug("LLM statement repeats one already shown", extra={"llm": self.name})
                continue
            reason = self._problem(st, n, evidence, embedder)
            if reason is None:
                if any(len(k) > 20 and k in key for k in shown_norm):
                    reason = "repeats an earlier statement"
                elif len(out.shown) >= limit:
                    reason = f"beyond the limit of {limit} statements"
            if reason is not None:
                cited = [evidence[c - 1].text for c in st.citations if 1 <= c <= n]
                out.dropped.append(
                    DroppedStatement(text=st.text, citations=st.citations, reason=reason, cited_texts=cited)
                )
                continue
            shown_norm.append(_norm(st.text))
            out.shown.append((st.text, st.citations))
        return out

    def _problem(
        self, st: RawStatement, n: int, evidence: Sequence[Sentence], embedder: Any | None
    ) -> str | None:
        if st.problem is not None:
            return st.problem
        if not st.citations:
            return "no citation marker: a statement must name the evidence it comes from"
        outside = [c for c in st.citations if not 1 <= c <= n]
        if outside:
            given = f"[1]-[{n}]" if n > 1 else "[1]"
            bad = ", ".join(f"[{c}]" for c in outside)
            return f"cites {bad}, but the evidence given was {given}"
        cited = [evidence[c - 1].text for c in st.citations]
        return repetition(st.text, cited) or support_verdict(st.text, cited, embedder)

    # -- the answer
    def answer(self, question: str, draft: Draft, engine: Engine) -> Answer:
        """The LLM's verified answer, or the extractive answer with the reason (never an exception)."""
        draft = self.screened(draft)  # documents are data: instructions in them are never used
        if draft.bottom_line is None or engine.abstain_reason(draft) is not None:
            return engine._build_answer(question, draft)  # not enough evidence: not the model's call
        embedder = engine.store.embedder
        started = time.perf_counter()
        dropped: list[DroppedStatement] = []
        try:
            evidence = self.evidence(draft)
            if not evidence:
                return self._fallback(
                    question, draft, engine, "no evidence sentence was left to show the model", []
                )
            reply = self.generate(question, evidence)
            parsed = parse_reply(reply)
            checked = self.verify(parsed, evidence, embedder)
            dropped = checked.dropped
            logger.info(
                "LLM answer checked",
                extra={
                    "llm": self.name,
                    "form": parsed.form,
                    "shown": len(checked.shown),
                    "dropped": len(checked.dropped),
                    "llm_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            if not checked.shown:
                why = (
                    "the model wrote no statement"
                    if not parsed.statements
                    else "no statement the model wrote passed the citation check"
                )
                return self._fallback(question, draft, engine, why, dropped)
            return self._render(question, checked, evidence, draft, engine)
        except LLMTimeoutError:
            limit = self.settings.generation.timeout_s
            return self._fallback(
                question, draft, engine, f"the model did not answer within {limit:g} s", dropped
            )
        except Exception as exc:  # a model or server error must never become a 500
            logger.warning("LLM call failed", exc_info=logger.isEnabledFor(logging.DEBUG))
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return self._fallback(
                question, draft, engine, f"the model failed: {type(exc).__name__}: {text}"[:300], dropped
            )

    def _fallback(
        self, question: str, draft: Draft, engine: Engine, reason: str, dropped: list[DroppedStatement]
    ) -> Answer:
        logger.warning(
            "LLM answer replaced by the extractive answer", extra={"llm": self.name, "reason": reason}
        )
        answer = engine._build_answer(question, draft)
        answer.fallback = GenerationFallback(generator=self.name, reason=reason, dropped_statements=dropped)
        return answer

    def _render(
        self, question: str, checked: Verified, evidence: Sequence[Sentence], draft: Draft, engine: Engine
    ) -> Answer:
        from qa_service.engine import grounded_answer

        citations: list[Citation] = []
        number: dict[int, int] = {}  # evidence number -> citation id

        def cite(k: int) -> int:
            if k not in number:
                s = evidence[k - 1]
                number[k] = len(citations) + 1
                citations.append(
                    Citation(
                        id=number[k], doc_id=s.doc_id, source=s.source, title=s.title, section=s.section,
                        start=s.start, end=s.end, text=s.text, score=round(s.score, 6),
                    )
                )
            return number[k]

        first_text, first_cites = checked.shown[0]
        rest = checked.shown[1:]
        labels: list[str | None] = [None] * len(rest)
        if len(rest) >= 3:  # headings only when there are several aspects (as the extractive path)
            labels = [group_label(evidence[c[0] - 1]) for _, c in rest]
            if len(set(labels)) == 1:
                labels = [None] * len(rest)
        order = sorted(range(len(rest)), key=lambda i: (labels.index(labels[i]), i))
        statements = [Statement(text=first_text, citations=[cite(k) for k in first_cites], group=None)]
        for i in order:
            text, cites = rest[i]
            statements.append(Statement(text=text, citations=[cite(k) for k in cites], group=labels[i]))
        return grounded_answer(
            question, statements, citations, config_hash=self.settings.config_hash, generator=self.name,
            confidence=draft.confidence, dropped=checked.dropped,
        )

