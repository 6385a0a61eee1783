"""The self-contained HTML report of an eval run (``medcite eval GOLD --report PATH``).

One file, no network: plots are matplotlib SVGs embedded as ``data:`` URIs, the
style sheet is inline, and there is no script. Every piece of text from the gold
file, the answers or the documents goes through Jinja's autoescaping.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from eval.matching import fact_stated
from eval.metrics import METRICS
from eval.models import EvalRun, QuestionResult

logger = logging.getLogger(__name__)

_TEMPLATE = Path(__file__).with_name("report.html")


def _svg_data_uri(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue().encode("utf-8")).decode("ascii")


def _figure(width: float = 5.6, height: float = 3.4) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    # Figure() without pyplot: no global state, no GUI backend, safe in threads
    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot()


def risk_coverage_plot(run: EvalRun) -> str | None:
    """Selective accuracy against coverage, as an SVG data URI (None without answers)."""
    points = run.risk_coverage
    if not points:
        return None
    fig, ax = _figure()
    xs = [0.0] + [p.coverage for p in points]
    ys = [points[0].selective_accuracy] + [p.selective_accuracy for p in points]
    ax.step(xs, ys, where="post", color="#1f5fa8", linewidth=1.8)
    ax.scatter([p.coverage for p in points], [p.selective_accuracy for p in points], s=10, color="#1f5fa8")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered, most confident first)")
    ax.set_ylabel("selective accuracy")
    ax.grid(alpha=0.3)
    return _svg_data_uri(fig)


def latency_histogram(run: EvalRun) -> str | None:
    """Histogram of per-question latency, failures stacked in red, as an SVG data URI."""
    ok = [r.latency_ms / 1000 for r in run.per_question if not r.failed]
    bad = [r.latency_ms / 1000 for r in run.per_question if r.failed]
    if not ok and not bad:
        return None
    fig, ax = _figure()
    series = [(ok, "answered / abstained", "#1f5fa8"), (bad, "failed", "#c0392b")]
    series = [s for s in series if s[0]]
    ax.hist(
        [s[0] for s in series],
        bins=20,
        stacked=True,
        label=[s[1] for s in series],
        color=[s[2] for s in series],
    )
    for name, style in (("latency_p50_ms", "--"), ("latency_p95_ms", ":")):
        value = run.metrics.get(name)
        if value is not None:
            ax.axvline(
                value / 1000,
                color="black",
                linestyle=style,
                linewidth=1,
                label=name.replace("latency_", "").replace("_ms", ""),
            )
    ax.set_xlabel("seconds per question")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _svg_data_uri(fig)


def highlight_facts(q: QuestionResult) -> list[Markup]:
    """Key facts as HTML: found ones plain, missed ones marked."""
    out = [Markup('<span class="fact found">{}</span>').format(f) for f in q.key_facts_found]
    out += [Markup('<mark class="fact missed">{}</mark>').format(f) for f in q.key_facts_missed]
    return out


def _format_value(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if name.endswith("_ms") else f"{value:.3f}"


def _format_interval(name: str, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "—"
    return f"[{_format_value(name, interval[0])}, {_format_value(name, interval[1])}]"


def _mark_answer(q: QuestionResult) -> Markup:
    """The answer text, escaped, with found key facts underlined (simple whole-line search)."""
    if not q.answer:
        return Markup("")
    lines = []
    for line in q.answer.splitlines():
        hit = any(fact_stated(f, line) for f in q.key_facts_found)
        lines.append(Markup('<span class="hit">{}</span>').format(line) if hit else escape(line))
    return Markup("\n").join(lines)


def render_report(run: EvalRun, title: str | None = None) -> str:
    """The report as one HTML string."""
    env = Environment(autoescape=True)
    env.filters["value"] = lambda v, name: _format_value(name, v)
    env.filters["interval"] = lambda v, name: _format_interval(name, v)
    # report.html sits beside this module (package data, so installed copies have it too)
    template = env.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    rows = [
        {
            "name": m.name,
            "description": m.description,
            "value": run.metrics.get(m.name),
            "interval": run.intervals.get(m.name),
            "support": run.support.get(m.name),
            "undefined": run.undefined.get(m.name),
            "lower_better": not m.higher_is_better,
        }
        for m in METRICS
    ]
    questions = [
        {"q": q, "facts": highlight_facts(q), "answer_html": _mark_answer(q)} for q in run.per_question
    ]
    return template.render(
        title=title or f"medcite eval — {Path(run.run.gold_path).name}",
        run=run,
        rows=rows,
        questions=questions,
        risk_plot=risk_coverage_plot(run),
        latency_plot=latency_histogram(run),
    )


def write_report(run: EvalRun, path: Path, title: str | None = None) -> Path:
    """Write the HTML report to ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run, title), encoding="utf-8")
    logger.info("report written", extra={"path": str(path)})
    return path
