"""Train the sentence ranker and the abstention model on development data only.

Run from the repository root (one deterministic command)::

    .venv/bin/python -m benchmarks.train_ranker            # fit, cross-validate, write the ranker
    .venv/bin/python -m benchmarks.train_ranker --cv-only  # report cross-validation, write nothing

(the ranker is written to qa_service/data/ranker.json)

Training questions (never ``eval/gold/corpus.jsonl``, the frozen test set):
- COVID-QA dev (``../shared/data/covidqa-dev``, 542 questions over 35 long articles):
  a candidate sentence is positive when it overlaps the gold answer span;
- the team's dev gold sets: on ``corpus/`` (``eval/gold/dev.jsonl``,
  ``dev_unanswerable.jsonl``, ``dev_clinician.jsonl``), on consumer-health pages
  (``dev_consumer.jsonl``) and on NIH pages (``dev_nih.jsonl``), whose corpora the
  ``eval.datasets`` adapters build from ``../shared/data``: a sentence is positive when
  it contains a gold evidence quote, or (lines without quotes) a key fact.

Candidates and features come from the production path (``Engine.candidates`` then
``ExtractiveComposer.score``), so training sees exactly what answering sees.

The abstention model is a logistic regression on answer-level signals
(``qa_service.ranker.ANSWER_FEATURES``: the best candidates' probabilities, dense
similarity, coverage of the question's specific terms, the share of them the corpus
never uses). Positives: answerable questions. Negatives: the dev sets' unanswerable
questions, and COVID-QA questions asked with every candidate of their gold article
removed (the evidence is then absent). It is fitted on out-of-fold ranker
probabilities, as it meets unseen questions at run time; its threshold is the highest
with at most ``--max-false-abstain`` false abstentions among the answerable questions of every
dev corpus (seeds, consumer, NIH, COVID-QA), so the highest abstention recall that holds on all.

Prints cross-validated figures (folds grouped by document, so no article is both
trained and tested on) for each model kind, the chosen model's weights, and the
abstention risk-coverage on dev.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import (
    DEFAULT_DATA,
    OUT,
    REPO,
    cached_engine,
    load_model,
    note,
    print_table,
    read_jsonl,
    setup_entry_point,
)
from benchmarks.covidqa import covidqa, locate

SEED = 0
GOLD = REPO / "eval" / "gold"


@dataclass
class Example:
    """One question's candidates: features, labels, and the inputs of the answer-level signals."""

    set_name: str
    qid: str
    group: str  # cross-validation group (the gold document, or the question)
    inputs: list[Any]  # qa_service.ranker.Candidate per sentence (features are recomputed from them)
    y: np.ndarray
    answerable: bool
    real: bool  # a question as asked (not a gold-document-removed copy)
    question: Any  # QuestionAnalysis
    dense: np.ndarray
    chunk_dense: np.ndarray
    stems: list[frozenset[str]]
    # per gold item (quote, key fact or answer span): the candidates that hold it; "all" = every one is needed
    targets: list[list[int]] = field(default_factory=list)
    need_all: bool = False
    query_vector: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gold_answers: list[str] = field(default_factory=list)  # answer span or key facts (for analysis)
    X: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def featurize(self) -> None:
        from qa_service.ranker import featurize

        self.X = featurize(self.question, self.inputs)


def _example(
    set_name: str,
    qid: str,
    group: str,
    scored: Any,
    y: np.ndarray,
    answerable: bool,
    real: bool = True,
    targets: list[list[int]] | None = None,
    need_all: bool = False,
    gold_answers: list[str] | None = None,
) -> Example:
    from qa_service.question import normalised_stems

    sents = scored.sentences
    return Example(
        set_name, qid, group, scored.inputs, y, answerable, real, scored.question,
        np.array([s.dense for s in sents]), np.array([s.chunk_dense for s in sents]),
        [s.stems | (frozenset(normalised_stems(s.context)) if s.context else frozenset()) for s in sents],
        targets or [], need_all, scored.query_vector, gold_answers or [],
    )


def _score(engine: Any, question: str, drop_doc: str | None = None) -> Any:
    """Production candidates and features; ``drop_doc`` removes one document's chunks first."""
    k = engine.settings.answer.evidence_chunks
    index = engine._index()
    vector, cands = engine.candidates(question, max(engine.settings.retrieval.candidates, k), index)
    if drop_doc is not None:
        cands = [c for c in cands if c.row.doc_id != drop_doc]
    return engine.composer.score(question, vector, cands[:k], index)


# ----------------------------------------------------------------------------- collecting


def collect_covidqa(data: Path, embedder: Any) -> list[Example]:
    dataset, golds = covidqa(data)
    engine = cached_engine(dataset, {}, embedder)
    by_source = dataset.key_by_source()
    doc_of = {by_source[d.source]: d.doc_id for d in engine.store.list_documents() if d.source in by_source}
    out: list[Example] = []
    texts: dict[str, str] = {}
    try:
        for n, gold in enumerate(golds, 1):
            doc_id = doc_of[gold.doc_key]
            text = texts.get(doc_id) or texts.setdefault(doc_id, engine.store.get_document(doc_id).text or "")
            span = locate(text, gold)
            if span is None:
                continue
            group = f"covid:{gold.doc_key}"
            scored = _score(engine, gold.question)
            y = np.array([float(s.doc_id == doc_id and s.start < span[1] and span[0] < s.end)
                          for s in scored.sentences])
            out.append(_example("covidqa", gold.qid, group, scored, y, True,
                                targets=[list(np.flatnonzero(y))], need_all=True, gold_answers=[gold.answer]))
            removed = _score(engine, gold.question, drop_doc=doc_id)
            out.append(_example("covidqa", gold.qid + "-removed", group, removed,
                                np.zeros(len(removed.sentences)), False, real=False))
            if n % 100 == 0:
                note(f"covidqa: {n}/{len(golds)}")
    finally:
        engine.close()
    return out


def dev_sets(
    data: Path, wanted: Iterable[str] = ("seeds", "consumer", "nih")
) -> list[tuple[str, list[Path], Path]]:
    """(set name, dev gold files, corpus folder) of every dev set whose corpus can be built here."""
    from eval.datasets.consumer import build_consumer
    from eval.datasets.nih import build_nih

    wanted = set(wanted)
    out: list[tuple[str, list[Path], Path]] = []
    if "seeds" in wanted:
        out.append(
            (
                "seeds",
                [GOLD / "dev.jsonl", GOLD / "dev_unanswerable.jsonl", GOLD / "dev_clinician.jsonl"],
                REPO / "corpus",
            )
        )
    builders = {
        "consumer": (build_consumer, GOLD / "dev_consumer.jsonl"),
        "nih": (build_nih, GOLD / "dev_nih.jsonl"),
    }
    for name, (build, gold_file) in builders.items():
        if name not in wanted or not (data / "medquad").is_dir():
            continue
        folder = OUT / "files" / f"dev-{name}"
        build(folder, data_root=data, force=True)
        out.append((name, [gold_file], folder / "corpus"))
    return [(n, [f for f in files if f.is_file()], c) for n, files, c in out]


def collect_gold(gold_paths: list[Path], corpus: Path, set_name: str, embedder: Any) -> list[Example]:
    """Dev gold files over a folder of documents (the store ingests the folder as it is)."""
    from eval.matching import fact_stated, normalise_quote

    engine = _folder_engine(corpus, set_name, embedder)
    docs = {d.source: d.doc_id for d in engine.store.list_documents()}
    out: list[Example] = []
    try:
        for path in gold_paths:
            for row in read_jsonl(path):
                scored = _score(engine, row["question"])
                quotes = row.get("evidence") or []
                facts = row.get("key_facts") or []
                sents = scored.sentences
                if quotes:
                    targets = [
                        [
                            i
                            for i, s in enumerate(sents)
                            if normalise_quote(q["quote"]) in normalise_quote(s.text)
                            and docs.get(q.get("source") or "", s.doc_id) == s.doc_id
                        ]
                        for q in quotes
                    ]
                else:
                    targets = [[i for i, s in enumerate(sents) if fact_stated(f, s.text)] for f in facts]
                y = np.zeros(len(sents))
                for hits in targets:
                    y[hits] = 1.0
                answerable = bool(row.get("answerable", True))
                out.append(_example(set_name, row["id"], f"{set_name}:{row['id']}", scored, y, answerable,
                                    targets=targets, gold_answers=list(facts)))
    finally:
        engine.close()
    return out


def _folder_engine(corpus: Path, name: str, embedder: Any) -> Any:
    """An engine over a folder of documents of any format, cached under benchmarks/out/."""
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    probe = get_settings(OUT / "probe")
    data_dir = OUT / "stores" / f"dev-{name}-{probe.index_fingerprint}"
    engine = Engine.open(get_settings(data_dir), owner={"command": "benchmark"}, embedder=embedder)
    ingest_paths(engine.store, [corpus], prune=True)
    return engine


def collect(data: Path, sets: set[str], reuse: bool = False) -> list[Example]:
    """Every training question's candidates (cached in benchmarks/out/ranker-examples.pkl for ``--reuse``)."""
    import pickle

    cache = OUT / "ranker-examples.pkl"
    if reuse and cache.is_file():
        examples = [e for e in pickle.loads(cache.read_bytes()) if e.set_name in sets]
        note(f"reusing {len(examples)} collected questions from {cache}")
        return examples
    embedder = load_model()
    examples: list[Example] = []
    for set_name, gold_files, corpus in dev_sets(data, sets):
        examples += collect_gold(gold_files, corpus, set_name, embedder)
        note(f"{set_name}: {sum(e.set_name == set_name for e in examples)} questions")
    if "covidqa" in sets and (data / "covidqa-dev" / "corpus.jsonl").is_file():
        examples += collect_covidqa(data, embedder)
    cache.write_bytes(pickle.dumps(examples))
    return examples


# ----------------------------------------------------------------------------- fitting


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_logreg(X: np.ndarray, y: np.ndarray, features: list[str], C: float = 1.0,
               weights: np.ndarray | None = None) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = _standardise(X)
    model = LogisticRegression(C=C, max_iter=5000, random_state=SEED)
    model.fit((X - mean) / scale, y, sample_weight=weights)
    return {
        "kind": "logreg", "features": features, "mean": mean.tolist(), "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
    }


def fit_lightgbm(X: np.ndarray, y: np.ndarray, features: list[str]) -> dict[str, Any]:
    import lightgbm

    params = {
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
        "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
        "seed": SEED, "deterministic": True, "force_row_wise": True, "num_threads": 1, "verbose": -1,
    }
    booster = lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=features), num_boost_round=300)
    return {"kind": "lightgbm", "features": features, "model": booster.model_to_string()}


FITTERS = {"logreg": fit_logreg, "lightgbm": fit_lightgbm}


def _ranker(spec: dict[str, Any]) -> Any:
    from qa_service.ranker import SentenceRanker

    return SentenceRanker(spec, "training")


def rank_metrics(examples: list[Example], probs: list[np.ndarray]) -> dict[str, float]:
    """top-1: the best sentence is positive; any@3: a positive among the best three
    (questions with a positive)."""
    pairs = [(e, p) for e, p in zip(examples, probs, strict=True) if e.y.any()]
    top1 = np.mean([e.y[int(np.argmax(p))] for e, p in pairs]) if pairs else 0.0
    any3 = np.mean([e.y[np.argsort(-p)[:3]].any() for e, p in pairs]) if pairs else 0.0
    return {"questions": float(len(pairs)), "top1": float(top1), "any@3": float(any3)}


def out_of_fold(examples: list[Example], kind: str, folds: int = 5) -> list[np.ndarray]:
    """Each example's probabilities from a ranker fitted without its group
    (every example, answerable or not)."""
    from sklearn.model_selection import GroupKFold

    from qa_service.ranker import FEATURES

    groups = np.array([e.group for e in examples])
    probs: list[np.ndarray] = [np.zeros(0)] * len(examples)
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(len(examples)), groups=groups):
        fit = [examples[i] for i in train if len(examples[i].y)]
        spec = FITTERS[kind](
            np.vstack([e.X for e in fit]), np.concatenate([e.y for e in fit]), list(FEATURES)
        )
        model = _ranker(spec)
        for i in test:
            probs[i] = model.predict(examples[i].X)
    return probs


def answer_matrix(examples: list[Example], probs: list[np.ndarray]) -> np.ndarray:
    from qa_service.ranker import answer_features

    return np.vstack(
        [
            answer_features(e.question, p, e.dense, e.chunk_dense, e.stems)
            for e, p in zip(examples, probs, strict=True)
        ]
    )


def choose_threshold(conf: np.ndarray, examples: list[Example], max_false: float) -> float:
    """Highest threshold (so the highest abstention recall) with at most ``max_false`` false abstentions
    among the answerable questions of *every* dev corpus: a user's corpus may look like any of them."""
    sets = sorted({e.set_name for e in examples})
    answerable = {
        name: np.array(
            [conf[i] for i, e in enumerate(examples) if e.set_name == name and e.real and e.answerable]
        )
        for name in sets
    }
    best = 0.0
    for t in np.unique(np.round(conf, 3)):
        if all((pos < t).mean() <= max_false for pos in answerable.values() if len(pos)):
            best = max(best, float(t))
    return best


def abstention_table(
    conf: np.ndarray, examples: list[Example], thresholds: Iterable[float]
) -> list[tuple[Any, ...]]:
    rows = []
    for t in thresholds:
        for name in sorted({e.set_name for e in examples}):
            idx = [i for i, e in enumerate(examples) if e.set_name == name and e.real]
            ans = [i for i in idx if examples[i].answerable]
            una = [i for i in idx if not examples[i].answerable]
            removed = [i for i, e in enumerate(examples) if e.set_name == name and not e.real]
            rows.append((
                f"{t:.3f}", name,
                float(np.mean([conf[i] < t for i in ans])) if ans else float("nan"),
                float(np.mean([conf[i] < t for i in una])) if una else float("nan"),
                float(np.mean([conf[i] < t for i in removed])) if removed else float("nan"),
            ))
    return rows


def simulate(examples: list[Example], probs: list[np.ndarray], floor: float, relative: float,
             most: int) -> dict[str, dict[str, float]]:
    """The selection rule (best first, then while p >= max(floor, relative * best), at most ``most``) on
    out-of-fold probabilities: share of gold items cited, statements and characters per answer."""
    out: dict[str, dict[str, float]] = {}
    for name in sorted({e.set_name for e in examples}):
        found = total = 0
        n_statements: list[int] = []
        chars: list[int] = []
        for e, p in zip(examples, probs, strict=True):
            if e.set_name != name or not e.real or not e.answerable or not len(p):
                continue
            order = np.argsort(-p)
            cut = max(floor, relative * p[order[0]])
            chosen = [int(order[0])] + [int(i) for i in order[1:most] if p[i] >= cut]
            n_statements.append(len(chosen))
            chars.append(sum(e.inputs[i].chars for i in chosen))
            for hits in e.targets:
                total += 1
                found += bool(hits) and (
                    set(hits) <= set(chosen) if e.need_all else bool(set(hits) & set(chosen))
                )
        out[name] = {
            "cited": found / total if total else float("nan"),
            "statements": float(np.median(n_statements)) if n_statements else 0.0,
            "chars": float(np.median(chars)) if chars else 0.0,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv-only", action="store_true", help="Report cross-validation; write nothing.")
    parser.add_argument(
        "--kind", choices=sorted(FITTERS), default=None, help="Model kind (default: best in CV)."
    )
    parser.add_argument("--out", type=Path, default=REPO / "qa_service" / "data" / "ranker.json")
    parser.add_argument("--sets", default="seeds,consumer,nih,covidqa", help="Comma-separated training sets.")
    parser.add_argument("--max-false-abstain", type=float, default=0.05)
    parser.add_argument(
        "--reuse", action="store_true", help="Reuse the candidates collected by the last run."
    )
    args = parser.parse_args(argv)
    sets = set(args.sets.split(","))
    setup_entry_point()
    from qa_service.ranker import ANSWER_FEATURES, FEATURES

    examples = collect(args.data, sets, reuse=args.reuse)
    for e in examples:
        e.featurize()
    # unanswerable questions train too: all their candidates are negatives, which teaches the ranker
    # what a sentence that does not answer looks like however close its words (probabilities then
    # also say how likely the best sentence is an answer at all, which abstention builds on)
    trainable = [e for e in examples if len(e.y)]
    note(f"{len(trainable)} questions ({sum(e.answerable for e in trainable)} answerable), "
         f"{sum(len(e.y) for e in trainable)} candidate sentences")

    oof = {kind: out_of_fold(examples, kind) for kind in FITTERS}
    rows = []
    for kind, probs in oof.items():
        for name in sorted({e.set_name for e in examples}):
            idx = [i for i, e in enumerate(examples) if e.set_name == name and e.answerable and e.real]
            m = rank_metrics([examples[i] for i in idx], [probs[i] for i in idx])
            rows.append((kind, name, int(m["questions"]), m["top1"], m["any@3"]))
    print_table(
        "Sentence ranker, 5-fold cross-validation grouped by document",
        ["model", "set", "questions", "top-1", "any@3"],
        rows,
    )
    kind = args.kind or max(oof, key=lambda k: np.mean([r[3] for r in rows if r[0] == k]))
    note(f"ranker: {kind}")
    grid = []
    for floor in (0.0, 0.01, 0.02, 0.03, 0.05):
        for relative in (0.0, 0.03, 0.05, 0.1):
            for most in (8,):
                sim = simulate(examples, oof[kind], floor, relative, most)
                grid.append((floor, relative, most, *(v for m in sim.values() for v in m.values())))
    names = sorted({e.set_name for e in examples})
    print_table(
        "Selection rule on out-of-fold probabilities: gold items cited / median statements / median chars",
        ["floor", "relative", "most", *(f"{n} {h}" for n in names for h in ("cited", "stmts", "chars"))],
        grid,
    )

    # abstention: fitted on out-of-fold ranker probabilities
    A = answer_matrix(examples, oof[kind])
    labels = np.array([float(e.answerable) for e in examples])
    # each (set, asked-or-removed) group weighs the same: 542 COVID-QA questions must not drown
    # 40 real unanswerables
    keys = [(e.set_name, e.real, e.answerable) for e in examples]
    counts = {k: keys.count(k) for k in set(keys)}
    weights = np.array([len(examples) / (len(counts) * counts[k]) for k in keys])
    abst = fit_logreg(A, labels, list(ANSWER_FEATURES), C=0.5, weights=weights)
    conf = _ranker({"kind": "logreg", "features": [FEATURES[0]], "mean": [0.0], "scale": [1.0], "coef": [0.0],
                    "intercept": 0.0, "abstention": abst})
    confidence = np.array([conf.answerable(a) for a in A])
    threshold = choose_threshold(confidence, examples, args.max_false_abstain)
    print_table(
        "Abstention (in-sample on out-of-fold ranker probabilities): share abstained",
        ["threshold", "set", "answerable (false)", "unanswerable (recall)", "gold doc removed"],
        abstention_table(confidence, examples, sorted({0.3, 0.4, threshold, 0.5, 0.6})),
    )
    print_table("Abstention weights (standardised)", ["signal", "weight"],
                sorted(zip(ANSWER_FEATURES, abst["coef"], strict=True), key=lambda fw: -abs(fw[1])))
    note(f"abstention threshold: {threshold:.3f}")
    if args.cv_only:
        return 0
    spec = FITTERS[kind](
        np.vstack([e.X for e in trainable]), np.concatenate([e.y for e in trainable]), list(FEATURES)
    )
    spec["abstention"] = abst
    spec["abstain_threshold"] = threshold
    # provenance by size and command (the sets are named in this script and benchmarks/README.md)
    spec["trained_on"] = {
        "command": "python -m benchmarks.train_ranker",
        "questions": len(trainable),
        "candidates": int(sum(len(e.y) for e in trainable)),
    }
    args.out.write_text(json.dumps(spec, sort_keys=True) + "\n", encoding="utf-8")
    note(f"wrote {kind} ranker to {args.out}")
    if kind == "logreg":
        print_table("Ranker weights (standardised features)", ["feature", "weight"],
                    sorted(zip(spec["features"], spec["coef"], strict=True), key=lambda fw: -abs(fw[1])))
    else:
        booster = _ranker(spec)._booster
        gains = booster.feature_importance(importance_type="gain")
        print_table("Ranker feature importance (LightGBM gain, share)", ["feature", "gain"],
                    sorted(zip(spec["features"], gains / gains.sum(), strict=True), key=lambda fw: -fw[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
