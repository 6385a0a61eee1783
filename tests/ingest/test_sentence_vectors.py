"""Sentence vectors pooled from the chunk pass at ingest (late chunking): the real model and store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import split_sentences
from ingest.pipeline import ingest_paths
from ingest.settings import get_settings
from ingest.store import Store
from qa_service.engine import Engine
from tests.conftest import CORPUS


@pytest.fixture
def store(tmp_path: Path, embedder) -> Store:  # type: ignore[no-untyped-def]
    s = Store(get_settings(tmp_path / "data"), embedder=embedder)
    yield s
    s.close()


def test_chunk_vectors_equal_plain_encode_and_span_vectors_are_token_means(embedder) -> None:  # type: ignore[no-untyped-def]
    import torch

    texts = [
        "Infants of vegan mothers are at risk. Give hydroxocobalamin 1 mg intramuscularly.",
        "Serum B12 was 80 pg/mL.",
    ]
    spans = [[(0, 37), (38, len(texts[0]))], [(0, len(texts[1]))]]
    vectors, pooled = embedder.encode_with_spans(texts, spans)
    assert np.allclose(vectors, embedder.encode(texts), atol=1e-5)
    assert [len(p.vectors) for p in pooled] == [2, 1]
    assert list(pooled[0].seen) == [37, len(texts[0]) - 38]
    assert np.allclose(np.linalg.norm(pooled[0].vectors, axis=1), 1.0, atol=1e-5)
    # by hand: the mean of the contextual token vectors of the second sentence
    model = embedder._model
    enc = model.tokenizer([texts[0]], return_offsets_mapping=True)
    with torch.inference_mode():
        tokens = model(model.preprocess([texts[0]]))["token_embeddings"][0].numpy()
    offsets = enc["offset_mapping"][0]
    rows = [i for i, (a, b) in enumerate(offsets) if b > a and b > 38]
    expected = tokens[rows].mean(0)
    assert np.allclose(pooled[0].vectors[1], expected / np.linalg.norm(expected), atol=1e-5)
    # a span over a whole text is nearly the text's own vector (which also averages [CLS] and [SEP])
    assert float(np.dot(pooled[1].vectors[0], vectors[1])) > 0.95


def test_text_past_the_token_limit_has_no_span_vector(embedder) -> None:  # type: ignore[no-untyped-def]
    first = "Short opening sentence about anaemia. "
    text = first + "word " * 600 + "Last sentence past the limit."
    tail = (len(text) - len("Last sentence past the limit."), len(text))
    _, pooled = embedder.encode_with_spans([text], [[(0, len(first) - 1), tail]])
    assert pooled[0].seen[0] == len(first) - 1
    assert pooled[0].seen[1] == 0
    assert not pooled[0].vectors[1].any()


def test_ingest_stores_a_vector_for_every_sentence_of_the_corpus(store: Store) -> None:
    ingest_paths(store, [CORPUS])
    docs = store.list_documents()
    evidence = store.docs.evidence([d.doc_id for d in docs])
    assert set(evidence) == {d.doc_id for d in docs}
    for doc in docs:
        ev = evidence[doc.doc_id]
        spans = split_sentences(ev.text, 0)
        # 1000-character chunks stay under the model's 256 tokens here: every sentence is covered
        assert set(ev.sentence_vectors) == set(spans)
        for vec in ev.sentence_vectors.values():
            assert vec.shape == (store.embedder.dimension,)
            assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-2  # stored as float16
        # pooled in context, yet on the whole close to the sentences encoded alone (short
        # title lines differ most: their context dominates)
        alone = store.embedder.encode([ev.text[s:e] for s, e in spans])
        sims = [float(np.dot(alone[i], ev.sentence_vectors[sp])) for i, sp in enumerate(spans)]
        assert float(np.mean(sims)) > 0.6, sims


def test_sentences_past_the_model_token_limit_are_encoded_on_their_own(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    # ~600 tokens in under 1000 characters: one chunk, most of it past the model's 256 tokens
    values = ", ".join(f"{i}.{i % 7}" for i in range(120))
    text = f"Serum values were {values}. The last sentence says ferritin was low.\n"
    (folder / "dense.txt").write_text(text, encoding="utf-8")
    ingest_paths(store, [folder])
    (doc,) = store.list_documents()
    assert doc.chunks == 1
    ev = store.docs.evidence([doc.doc_id])[doc.doc_id]
    spans = split_sentences(ev.text, 0)
    assert len(spans) == 2 and set(ev.sentence_vectors) == set(spans)
    s, e = spans[1]
    alone = store.embedder.encode([ev.text[s:e]])[0]
    assert float(np.dot(alone, ev.sentence_vectors[(s, e)])) > 0.99  # encoded alone, not pooled


def test_update_replaces_and_prune_deletes_sentence_vectors(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    note = folder / "note.txt"
    note.write_text("Ferritin reflects iron stores. Low ferritin means depleted stores.\n", encoding="utf-8")
    ingest_paths(store, [folder])
    (doc,) = store.list_documents()
    before = store.docs.evidence([doc.doc_id])[doc.doc_id].sentence_vectors
    assert len(before) == 2
    note.write_text("Folate is found in leafy greens.\n", encoding="utf-8")
    ingest_paths(store, [folder])
    after = store.docs.evidence([doc.doc_id])[doc.doc_id]
    assert set(after.sentence_vectors) == {(0, len("Folate is found in leafy greens."))}
    note.unlink()
    ingest_paths(store, [folder], prune=True)
    assert store.docs.evidence([doc.doc_id]) == {}
    with store.docs.engine.connect() as conn:
        from sqlalchemy import func, select

        from ingest.docstore import sentence_vectors_table

        assert conn.execute(select(func.count()).select_from(sentence_vectors_table)).scalar() == 0


class CountingEmbedder:
    """The real model, counting the texts it encodes (to see what ask runs the model on)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self.encoded: list[str] = []

    def encode(self, texts, **kwargs):  # type: ignore[no-untyped-def]
        self.encoded.extend(texts)
        return self.inner.encode(texts, **kwargs)

    def encode_with_spans(self, texts, spans, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.encode_with_spans(texts, spans, **kwargs)


QUESTION = "What dose of cobalamin is recommended for infants up to 12 months?"
DOSE_QUESTION = "What dose of hydroxocobalamin do infants with B12 deficiency receive?"


def test_ask_never_runs_the_model_on_sentences(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Sentence vectors come from ingest. Beside the question, ask encodes only short strings (section
    headings, single words for the ranker), each once per store generation: asked again, only the question."""
    counting = CountingEmbedder(embedder)
    engine = Engine.open(get_settings(tmp_path / "data"), embedder=counting)
    try:
        ingest_paths(engine.store, [CORPUS])
        sentences = {
            ev.text[a:b].strip()
            for ev in engine.store.docs.evidence([d.doc_id for d in engine.store.list_documents()]).values()
            for a, b in split_sentences(ev.text, 0)
        }
        counting.encoded.clear()
        answer = engine.ask(QUESTION)
        assert not answer.abstained and answer.statements
        assert counting.encoded[0] == QUESTION
        extra = counting.encoded[1:]
        # headings and words: short, and never a sentence of the documents that ends in a full stop
        assert not [t for t in extra if t.strip() in sentences and t.rstrip().endswith(".")], extra
        assert all(len(t.split()) <= 16 for t in extra), extra
        counting.encoded.clear()
        assert engine.ask(QUESTION).statements == answer.statements
        assert counting.encoded == [QUESTION]
    finally:
        engine.close()


def test_a_store_without_sentence_vectors_gives_the_same_statements(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Stores written before sentence vectors existed still answer: sentences are encoded at ask time."""
    from sqlalchemy import delete

    from ingest.docstore import sentence_vectors_table

    counting = CountingEmbedder(embedder)
    engine = Engine.open(get_settings(tmp_path / "data"), embedder=counting)
    try:
        ingest_paths(engine.store, [CORPUS])
        with engine.store.docs.engine.begin() as conn:
            conn.execute(delete(sentence_vectors_table))
        engine.composer._docs.clear()
        engine.composer._vector_cache.clear()
        counting.encoded.clear()
        answer = engine.ask(QUESTION)
        assert not answer.abstained and answer.statements
        assert len(counting.encoded) > 1  # the question and the sentences scored densely
        for st in answer.statements:
            for cid in st.citations:
                c = answer.citations[cid - 1]
                assert engine.store.get_document(c.doc_id).text[c.start : c.end] == c.text
    finally:
        engine.close()


def test_reingest_in_the_same_process_never_serves_stale_sentences(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    note = folder / "dosing.txt"
    note.write_text(
        "Dosing\n\nInfants with B12 deficiency receive hydroxocobalamin 1 mg intramuscularly.\n",
        encoding="utf-8",
    )
    engine = Engine.open(get_settings(tmp_path / "data"), embedder=embedder)
    try:
        ingest_paths(engine.store, [folder])
        first = engine.ask(DOSE_QUESTION)
        assert not first.abstained
        note.write_text(
            "Background\n\nThis note was revised.\n\nDosing\n\n"
            "Infants with B12 deficiency receive hydroxocobalamin 250 micrograms by intramuscular "
            "injection.\n",
            encoding="utf-8",
        )
        ingest_paths(engine.store, [folder])
        second = engine.ask(DOSE_QUESTION)
        assert not second.abstained
        text = engine.store.get_document(second.citations[0].doc_id).text
        for c in second.citations:
            assert text[c.start : c.end] == c.text
        assert "250 micrograms" in second.answer
    finally:
        engine.close()

