"""The embedder as LangChain sees it: ``embed_documents``/``embed_query`` of the ``Embeddings`` interface.

They are the abstract methods LangChain requires (the class cannot be built without them),
so any LangChain component (vector stores, retrievers, LCEL chains) can use medcite's model.
"""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore


def test_langchain_methods_equal_encode(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["Hydroxocobalamin 1 mg intramuscularly.", "Serum B12 was 80 pg/mL."]
    assert isinstance(embedder, Embeddings)
    documents = embedder.embed_documents(texts)
    assert isinstance(documents, list) and all(isinstance(v, list) for v in documents)
    assert np.allclose(documents, embedder.encode(texts), atol=1e-6)
    query = embedder.embed_query(texts[1])
    assert len(query) == embedder.dimension
    assert np.allclose(query, embedder.encode([texts[1]])[0], atol=1e-6)


def test_a_langchain_vector_store_searches_with_it(embedder) -> None:  # type: ignore[no-untyped-def]
    store = InMemoryVectorStore(embedding=embedder)
    store.add_texts(
        [
            "Infants with B12 deficiency receive intramuscular hydroxocobalamin.",
            "Oral zinc shortens acute diarrhoea in children.",
            "Iron supplements treat iron deficiency anaemia.",
        ]
    )
    (best,) = store.similarity_search("treatment of cobalamin deficiency in babies", k=1)
    assert "hydroxocobalamin" in best.page_content
