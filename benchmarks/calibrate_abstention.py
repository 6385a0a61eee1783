"""Calibrate abstention on DEV questions only, and print the risk–coverage trade-off.

Dev data: eval/gold/dev.jsonl (the team's tuning questions, answerable and not) and
eval/gold/dev_unanswerable.jsonl. The test gold set eval/gold/corpus.jsonl is only
*reported*, never used to choose. Prints, for each (dense weight, intent floor,
threshold), the share of answerable questions answered and of unanswerable ones
abstained (balanced accuracy), best first, and the chosen setting's row on both sets.

    .venv/bin/python benchmarks/calibrate_abstention.py
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.pipeline import ingest_paths  # noqa: E402
from ingest.settings import get_settings  # noqa: E402
from qa_service import answering  # noqa: E402
from qa_service.engine import Engine  # noqa: E402


def load(path: Path) -> list[tuple[str, bool]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["question"], bool(r.get("answerable", True))) for r in rows]


def signals(engine: Engine, questions: list[tuple[str, bool]]) -> list[tuple[bool, dict[str, float]]]:
    out = []
    for q, answerable in questions:
        index = engine.store.lexical()
        vec, cands = engine.candidates(q, index=index)
        draft = engine.composer.compose(q, vec, cands[: engine.settings.answer.evidence_chunks], index)
        out.append((answerable, draft.signals))
    return out


def confidence(sig: dict[str, float], dense_weight: float, floor: float) -> float:
    if sig["missing"]:
        return 0.0
    value = (
        dense_weight * max(0.0, min(1.0, (sig["dense"] - 0.15) / 0.55))
        + (1 - dense_weight) * sig["local_coverage"]
    )
    return value * (floor + (1 - floor) * sig["intent"])


def rates(
    rows: list[tuple[bool, dict[str, float]]], dw: float, fl: float, th: float
) -> tuple[float, float, float]:
    ans = [confidence(s, dw, fl) for a, s in rows if a]
    una = [confidence(s, dw, fl) for a, s in rows if not a]
    answered = sum(c >= th for c in ans) / len(ans)
    abstained = sum(c < th for c in una) / len(una)
    return (answered + abstained) / 2, answered, abstained


def main() -> None:
    dev = load(REPO / "eval/gold/dev.jsonl") + load(REPO / "eval/gold/dev_unanswerable.jsonl")
    test = load(REPO / "eval/gold/corpus.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(get_settings(Path(tmp)), owner={"command": "calibrate"})
        try:
            ingest_paths(engine.store, [REPO / "corpus"])
            d_rows, t_rows = signals(engine, dev), signals(engine, test)
            chosen = (
                answering.CONFIDENCE_DENSE_WEIGHT,
                answering.INTENT_FLOOR,
                engine.settings.answer.abstain_threshold,
            )
        finally:
            engine.close()
    grid = [
        (rates(d_rows, dw, fl, th), dw, fl, th)
        for dw, fl in itertools.product([0.2, 0.35, 0.5, 0.65, 0.8], [0.4, 0.6, 0.8, 1.0])
        for th in [x / 100 for x in range(20, 85, 5)]
    ]
    grid.sort(key=lambda r: -r[0][0])
    print(f"dev: {sum(a for a, _ in d_rows)} answerable, {sum(not a for a, _ in d_rows)} unanswerable")
    print(f"{'dense_w':>7} {'floor':>5} {'thresh':>6} | {'dev bal':>7} {'answered':>8} {'abstained':>9}")
    for (bal, ans, abst), dw, fl, th in grid[:10]:
        print(f"{dw:7.2f} {fl:5.2f} {th:6.2f} | {bal:7.3f} {ans:8.3f} {abst:9.3f}")
    print(
        "\nrisk-coverage on dev at the chosen weights (threshold: answered share of answerable / abstained "
        "share of unanswerable)"
    )
    for th in [x / 100 for x in range(30, 80, 5)]:
        bal, ans, abst = rates(d_rows, chosen[0], chosen[1], th)
        print(f"  threshold {th:.2f}: answered {ans:.3f}  abstained {abst:.3f}")
    for name, rows in (("dev", d_rows), ("test (corpus.jsonl, reported only)", t_rows)):
        bal, ans, abst = rates(rows, *chosen)
        print(
            f"chosen {chosen} on {name}: balanced {bal:.3f}, answerable answered {ans:.3f}, "
            f"unanswerable abstained {abst:.3f}"
        )


if __name__ == "__main__":
    main()
