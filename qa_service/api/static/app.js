/* medcite web UI: plain JavaScript, no build step, nothing loaded from elsewhere.
 *
 * Safety rule: text that comes from a question, an answer or a document is only
 * ever inserted with textContent / text nodes (see el()), never as HTML, so a
 * document containing <script> shows as text. The server's Content-Security-Policy
 * also forbids inline script.
 */
"use strict";

(() => {
  const KEY_STORAGE = "medcite.apiKey";
  const REVIEWER_STORAGE = "medcite.reviewer";
  const MAX_QUESTION = 2000;
  const STATUS_LABELS = {
    submitted: "Submitted",
    under_review: "Under review",
    approved: "Approved",
    rejected: "Rejected",
  };
  const ACTION_LABELS = { under_review: "Start review", approved: "Approve", rejected: "Reject" };
  const GROUP_ACTION_LABELS = {
    under_review: (n) => `Start review of all ${n}`,
    approved: (n) => `Approve all ${n}`,
    rejected: (n) => `Reject all ${n}`,
  };

  const $ = (id) => document.getElementById(id);
  const docCache = new Map();

  // ------------------------------------------------------------------ DOM helpers
  /** Build an element; children are nodes or strings (strings become text nodes, never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function setStatus(node, message, kind) {
    node.textContent = message || "";
    node.dataset.kind = kind || "";
  }

  function formatTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function preview(answer) {
    const text = answer.abstained ? `Abstained: ${answer.abstain_reason || ""}` : (answer.statements[0] || {}).text || answer.answer;
    return text.length > 260 ? `${text.slice(0, 259)}…` : text;
  }

  function whereLabel(c) {
    return [c.title || c.source, c.section].filter(Boolean).join(" · ");
  }

  // ------------------------------------------------------------------ API
  function apiKey() {
    return localStorage.getItem(KEY_STORAGE) || "";
  }

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    const key = apiKey();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  /** A readable sentence from an error response body. */
  function errorMessage(status, body) {
    let detail = body && body.detail;
    if (Array.isArray(detail)) {
      detail = detail.map((d) => (d && d.msg ? d.msg.replace(/^Value error, /, "") : String(d))).join("; ");
    }
    if (status === 401) return `${detail || "An API key is needed"}. Set it with the “API key” button at the top.`;
    if (status === 403) return `${detail || "Not allowed"}. Your API key's role cannot do this.`;
    if (!detail) return `The server answered ${status}.`;
    return String(detail);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const init = { method: opts.method, headers: headers(opts.json ? { "Content-Type": "application/json" } : {}) };
    if (opts.json) init.body = JSON.stringify(opts.json);
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "The service cannot be reached. Is `medcite serve` running?");
    }
    if (response.status === 204) return null;
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, body));
    return body;
  }

  function showBanner(message) {
    const banner = $("banner");
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  // ------------------------------------------------------------------ who is calling
  const me = {
    auth: false,
    role: "local",
    name: null,
    permissions: ["read", "manage_documents", "review"],
    can(p) {
      return this.permissions.includes(p);
    },
  };

  async function loadMe() {
    try {
      Object.assign(me, await api("/v1/me"));
    } catch (err) {
      me.permissions = []; // no (valid) key yet: the pages say so when they load
    }
    refreshReviewer();
  }

  // ------------------------------------------------------------------ tooltip
  const tooltip = $("tooltip");
  let tipOwner = null;

  function showTip(target, citation, options) {
    const tapped = Boolean(options && options.tapped);
    clear(tooltip);
    tooltip.append(
      el("span", { class: "tip-quote" }, "“", quoteNodes(citation.text), "”"),
      el("span", { class: "tip-source" }, `[${citation.id}] ${whereLabel(citation)}`)
    );
    if (tapped) {
      // A phone has no hover: the first tap shows this preview, which offers the document.
      tooltip.append(
        el(
          "span",
          { class: "tip-actions" },
          el("button", { type: "button", class: "btn btn-small btn-primary tip-open", onclick: () => { hideTip(); openSource(citation.doc_id, citation); } }, "Open in document"),
          el("button", { type: "button", class: "btn btn-small btn-quiet tip-close", onclick: () => hideTip() }, "Close")
        )
      );
    } else {
      tooltip.append(el("span", { class: "tip-hint" }, "Click to open it in the document"));
    }
    tooltip.classList.toggle("tooltip-interactive", tapped);
    tooltip.hidden = false;
    tipOwner = target;
    const r = target.getBoundingClientRect();
    const width = Math.min(420, window.innerWidth - 24);
    tooltip.style.width = `${width}px`;
    const left = Math.max(12, Math.min(r.left + r.width / 2 - width / 2, window.innerWidth - width - 12));
    tooltip.style.left = `${left + window.scrollX}px`;
    const below = r.bottom + 8;
    const height = tooltip.offsetHeight;
    const top = below + height > window.innerHeight && r.top - height - 8 > 0 ? r.top - height - 8 : below;
    tooltip.style.top = `${top + window.scrollY}px`;
  }

  function hideTip(target) {
    if (target && tipOwner !== target) return;
    tooltip.hidden = true;
    tooltip.classList.remove("tooltip-interactive");
    tipOwner = null;
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !tooltip.hidden) hideTip();
  });
  window.addEventListener("scroll", () => {
    if (!tooltip.classList.contains("tooltip-interactive")) hideTip();
  }, { passive: true });
  document.addEventListener("pointerdown", (event) => {
    // a tap outside an open preview closes it
    if (!tooltip.hidden && tooltip.classList.contains("tooltip-interactive") && !tooltip.contains(event.target) && !(tipOwner && tipOwner.contains(event.target))) {
      hideTip();
    }
  });

  /**
   * A source's footnote digits and list bullets, set apart from the quoted text.
   *
   * Sources carry reference markers that the citation keeps verbatim ("… maintenance 3",
   * "children 2, 3", "[14]", "• For …"); next to a dose they read as numbers. They are shown as
   * muted superscripts (bullets muted), never dropped: the text stays the source's, character for
   * character. Same patterns as the answer text's cleaning (qa_service/answering.py).
   */
  const REF_PATTERNS = [
    /\[\d+(?:\s*[-–,]\s*\d+)*\]/g, // [14], [15,16]
    /(?<=[A-Za-z\)])\s+\d{1,2}(?:\s*,\s*\d{1,2})*(?=\s*$)/g, // … maintenance 3 (line end, no full stop)
    /(?<=[A-Za-z\)][.!?])\s*\d{1,2}(?:\s*,\s*\d{1,2})*(?=\s*$)/g, // … deficiency. 1 (never 2.5)
  ];
  const BULLET = /^(\s*)([-•*▪◦·])(\s+)/;

  function quoteNodes(text) {
    const out = [];
    const lines = String(text).split("\n");
    lines.forEach((line, index) => {
      if (index) out.push("\n");
      let rest = line;
      const bullet = BULLET.exec(rest);
      if (bullet) {
        out.push(bullet[1], el("span", { class: "bullet", "aria-hidden": "true" }, bullet[2]), bullet[3]);
        rest = rest.slice(bullet[0].length);
      }
      const spans = [];
      const endsSentence = /[.!?]\s*$/.test(rest);
      REF_PATTERNS.forEach((pattern, i) => {
        if (i === 1 && endsSentence) return;
        for (const m of rest.matchAll(pattern)) spans.push([m.index, m.index + m[0].length]);
      });
      spans.sort((a, b) => a[0] - b[0]);
      let at = 0;
      for (const [start, end] of spans) {
        if (start < at) continue;
        out.push(rest.slice(at, start));
        const marker = rest.slice(start, end);
        const lead = marker.match(/^\s*/)[0];
        out.push(lead, el("sup", { class: "ref", title: "reference in the source" }, marker.slice(lead.length)));
        at = end;
      }
      out.push(rest.slice(at));
    });
    return out.filter((part) => part !== "");
  }

  let lastPointer = "mouse";
  document.addEventListener("pointerdown", (event) => { lastPointer = event.pointerType || "mouse"; }, true);

  /** A focusable [n] marker: tooltip on hover/focus, opens the cited span on click (on a phone: preview first). */
  function citeMarker(citation) {
    if (!citation) return null;
    const button = el(
      "button",
      {
        type: "button",
        class: "cite",
        "aria-label": `Citation ${citation.id}: ${whereLabel(citation)}. Open in the document.`,
        "aria-describedby": "tooltip",
        "data-cite": citation.id,
      },
      `[${citation.id}]`
    );
    button.addEventListener("mouseenter", () => { if (lastPointer === "mouse") showTip(button, citation); });
    button.addEventListener("mouseleave", () => { if (lastPointer === "mouse") hideTip(button); });
    button.addEventListener("focus", () => { if (lastPointer !== "touch") showTip(button, citation); });
    button.addEventListener("blur", () => { if (!tooltip.classList.contains("tooltip-interactive")) hideTip(button); });
    button.addEventListener("click", () => {
      if (lastPointer === "touch" || lastPointer === "pen") {
        const open = tipOwner === button && tooltip.classList.contains("tooltip-interactive");
        if (!open) {
          showTip(button, citation, { tapped: true });
          return;
        }
      }
      hideTip();
      openSource(citation.doc_id, citation);
    });
    return button;
  }

  // ------------------------------------------------------------------ abstentions in the user's words
  // Words of the reason's own sentence (never terms of the question); a UI list, not a vocabulary.
  const REASON_WORDS = new Set(["ingested", "documents", "mention", "passage", "passages", "addresses", "question", "closely", "enough", "evidence", "nearest"]);
  const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

  /** Reason terms (4+ letters) and the question word each stands for (a stem names the word it starts). */
  function questionWordsFor(reason, question) {
    const words = Array.from(question.matchAll(WORD), (m) => m[0]);
    const found = new Map();
    for (const m of reason.matchAll(WORD)) {
      const term = m[0].toLowerCase();
      if (term.length < 4 || REASON_WORDS.has(term)) continue;
      const exact = words.find((w) => w.toLowerCase() === term);
      const stemOf = words.filter((w) => w.toLowerCase().startsWith(term));
      const word = exact || (new Set(stemOf.map((w) => w.toLowerCase())).size === 1 ? stemOf[0] : null);
      if (word) found.set(term, word);
    }
    return found;
  }

  /** The reason with any stem ("migrain") shown as the user wrote the word ("migraine"). */
  function inUsersWords(reason, question) {
    const found = questionWordsFor(reason, question);
    return reason.replace(WORD, (token) => found.get(token.toLowerCase()) || token);
  }

  /** The question with the words the documents do not mention highlighted. */
  function markMissing(question, reason) {
    const wanted = new Set(Array.from(questionWordsFor(reason, question).values(), (w) => w.toLowerCase()));
    const out = [];
    let at = 0;
    for (const m of question.matchAll(WORD)) {
      if (!wanted.has(m[0].toLowerCase())) continue;
      out.push(question.slice(at, m.index), el("mark", { class: "missing" }, m[0]));
      at = m.index + m[0].length;
    }
    out.push(question.slice(at));
    return out;
  }

  // ------------------------------------------------------------------ answer rendering
  function citationCard(citation, changed) {
    return el(
      "li",
      { class: `source-card${changed ? " source-changed" : ""}` },
      el(
        "div",
        { class: "source-card-head" },
        el("span", { class: "source-num" }, `[${citation.id}]`),
        el("span", { class: "source-where" }, whereLabel(citation)),
        changed ? el("span", { class: "badge badge-warn", title: "The document changed: this text is no longer in it" }, "changed since") : null
      ),
      el("blockquote", { class: "quote" }, quoteNodes(citation.text)),
      el(
        "div",
        { class: "source-card-foot" },
        el("span", { class: "muted small" }, `characters ${citation.start}–${citation.end}`),
        el(
          "button",
          {
            type: "button",
            class: "btn btn-small",
            onclick: () => openSource(citation.doc_id, citation),
            "aria-label": `View citation ${citation.id} in ${citation.source}`,
          },
          "View in document"
        )
      )
    );
  }

  function statementNode(tag, statement, byId) {
    const node = el(tag, { class: "statement" }, `${statement.text} `);
    for (const id of statement.citations) {
      const marker = citeMarker(byId.get(id));
      if (marker) node.append(marker, " ");
    }
    if (statement.supported === false) {
      node.append(el("span", { class: "badge badge-warn", title: "The citation check could not confirm this statement" }, "unverified"));
    }
    return node;
  }

  /** The answer as structured blocks (bottom line, grouped statements, conflicts, sources). */
  function renderAnswer(answer, options) {
    const opts = options || {};
    const changed = new Set(opts.changed || []);
    const card = (c) => citationCard(c, changed.has(c.id));
    const byId = new Map(answer.citations.map((c) => [c.id, c]));
    const parts = [];
    const meta = el(
      "p",
      { class: "answer-meta muted small" },
      `${answer.generator} · ${Math.round(answer.latency_ms)} ms · config ${answer.config_hash}`
    );

    if (answer.abstained) {
      parts.push(
        el(
          "div",
          { class: "callout callout-warn" },
          el("h3", { class: "callout-title" }, "Not enough evidence to answer"),
          el("p", {}, inUsersWords(answer.abstain_reason || "The ingested documents do not answer this question.", answer.question)),
          el("p", { class: "asked" }, el("span", { class: "muted small" }, "Your question: "), markMissing(answer.question, answer.abstain_reason || "")),
          answer.citations.length
            ? el("p", { class: "muted small" }, "The closest passages found are shown below; they do not answer the question.")
            : null
        )
      );
      if (answer.citations.length) {
        parts.push(el("h3", { class: "section-title" }, "Nearest evidence"));
        parts.push(el("ol", { class: "source-list" }, answer.citations.map(card)));
      }
      parts.push(meta);
      return parts;
    }

    const [first, ...rest] = answer.statements;
    if (first) {
      parts.push(
        el(
          "div",
          { class: "bottom-line" },
          el("span", { class: "eyebrow" }, "Bottom line"),
          statementNode("p", first, byId)
        )
      );
    }
    let list = null;
    let current;
    for (const st of rest) {
      const group = st.group || "Details";
      if (group !== current || !list) {
        current = group;
        parts.push(el("h3", { class: "section-title" }, group));
        list = el("ul", { class: "statements" });
        parts.push(list);
      }
      list.append(statementNode("li", st, byId));
    }

    if (answer.conflicts.length) {
      const block = el("div", { class: "conflicts" }, el("h3", { class: "section-title" }, "Values that differ between sources"));
      for (const conflict of answer.conflicts) {
        const sides = conflict.citations.map((id) => byId.get(id)).filter(Boolean);
        block.append(
          el(
            "div",
            { class: "conflict" },
            el("p", { class: "conflict-desc" }, conflict.description),
            el(
              "div",
              { class: "conflict-sides" },
              sides.map((c) =>
                el(
                  "div",
                  { class: "conflict-side" },
                  el("div", { class: "source-card-head" }, citeMarker(c), el("span", { class: "source-where" }, whereLabel(c))),
                  el("blockquote", { class: "quote" }, quoteNodes(c.text))
                )
              )
            )
          )
        );
      }
      parts.push(block);
    }

    parts.push(...generationNotes(answer));
    if (!opts.compact) {
      parts.push(el("h3", { class: "section-title" }, "Sources"));
      parts.push(el("ol", { class: "source-list" }, answer.citations.map(card)));
    }
    parts.push(meta);
    return parts;
  }

  /** Which generator wrote the answer, and what the citation check dropped (for reviewers). */
  function generationNotes(answer) {
    const notes = [];
    const fallback = answer.fallback || null;
    const dropped = (answer.dropped_statements || []).length
      ? answer.dropped_statements
      : (fallback && fallback.dropped_statements) || [];
    if (answer.generator && answer.generator.startsWith("llm:")) {
      notes.push(
        el("p", { class: "generator-note small" },
          el("span", { class: "badge" }, "LLM"),
          ` Written by ${answer.generator.slice(4)}; every statement shown passed the citation check.`)
      );
    }
    if (fallback) {
      notes.push(
        el("p", { class: "generator-note small" },
          el("span", { class: "badge badge-warn" }, "extractive"),
          ` ${fallback.generator} was asked, but its answer is not shown: ${fallback.reason}. These are the source sentences instead.`)
      );
    }
    if (dropped.length) {
      notes.push(
        el("details", { class: "dropped" },
          el("summary", {}, `${dropped.length} statement${dropped.length === 1 ? "" : "s"} the model wrote failed the citation check (not shown as answer)`),
          el("ul", { class: "dropped-list" },
            dropped.map((d) =>
              el("li", {},
                el("s", {}, d.text),
                d.citations.length ? el("span", { class: "muted small" }, ` cited evidence ${d.citations.join(", ")}`) : null,
                el("div", { class: "small" }, `Why dropped: ${d.reason}`),
                (d.cited_texts || []).map((t) => el("blockquote", { class: "quote small" }, t))
              )
            )
          )
        )
      );
    }
    return notes;
  }

  // ------------------------------------------------------------------ ask view
  const askForm = $("ask-form");
  const question = $("question");

  question.addEventListener("input", () => {
    $("question-count").textContent = `${question.value.length} / ${MAX_QUESTION}`;
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      askForm.requestSubmit();
    }
  });

  /** Status line under the form: amber for an abstention (never the green of an answer). */
  function answerStatus(answer) {
    if (answer.abstained) return ["No answer: the documents do not hold enough evidence for this question.", "warn"];
    return [`Answer ready with ${answer.citations.length} citation${answer.citations.length === 1 ? "" : "s"}.`, "ok"];
  }

  function answerPath(id) {
    return `/answers/${encodeURIComponent(id)}`;
  }

  function answerIdFromPath() {
    const m = location.pathname.match(/^\/answers\/([^/]+)\/?$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  /** Copy this answer's address (it reloads the same answer from the audit log). */
  function shareButton(id) {
    const note = el("span", { class: "muted small share-note", role: "status", "aria-live": "polite" });
    const button = el(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        onclick: async () => {
          const url = new URL(answerPath(id), location.origin).href;
          try {
            await navigator.clipboard.writeText(url);
            note.textContent = "Link copied.";
          } catch (err) {
            note.textContent = url;
          }
        },
      },
      "Copy link"
    );
    return el("span", { class: "share" }, el("a", { href: answerPath(id), class: "small permalink" }, "Permalink"), button, note);
  }

  /** The banner of an answer whose cited evidence changed after it was given. */
  function driftBanner(record, onRecheck) {
    const byId = new Map(record.answer.citations.map((c) => [c.id, c]));
    const docs = [...new Set(record.changed_citations.map((id) => (byId.get(id) || {}).source).filter(Boolean))];
    const ids = record.changed_citations.map((id) => `[${id}]`).join(", ");
    const banner = el(
      "div",
      { class: "drift-banner", role: "note" },
      el("strong", {}, "The evidence behind this answer has changed."),
      el(
        "p",
        {},
        `Cited text ${ids} changed or is no longer in ${docs.join(", ") || "its document"} since this answer was given. `,
        record.status === "submitted" && record.history.some((h) => h.event === "evidence_changed" && h.previous_status === "approved")
          ? "Its approval was withdrawn and it is back in the review queue."
          : "Check it against the current documents before relying on it."
      )
    );
    if (onRecheck) {
      const result = el("div", { class: "recheck-result" });
      const button = el("button", { type: "button", class: "btn btn-small" }, "Recheck on current documents");
      button.addEventListener("click", async () => {
        button.disabled = true;
        setStatus(result, "Asking the question again…", "busy");
        try {
          const diff = await api(`/v1/answers/${encodeURIComponent(record.id)}/recheck`, { method: "POST" });
          clear(result);
          result.removeAttribute("data-kind");
          result.append(recheckDiff(diff));
          if (onRecheck) onRecheck(diff);
        } catch (err) {
          setStatus(result, err.message, "error");
        } finally {
          button.disabled = false;
        }
      });
      banner.append(el("div", { class: "drift-actions" }, button), result);
    }
    return banner;
  }

  /** What a recheck found: statements removed and added, new conflicts, moved citations. */
  function recheckDiff(diff) {
    const block = el("div", { class: "diff" });
    const list = (title, items, cls) =>
      items.length ? [el("h4", { class: "diff-title" }, title), el("ul", { class: `diff-list ${cls}` }, items.map((t) => el("li", {}, t)))] : [];
    block.append(
      ...list("No longer stated", diff.statements_removed, "diff-removed"),
      ...list("Now stated", diff.statements_added, "diff-added"),
      ...list("New disagreements between sources", diff.new_conflicts, "diff-conflict"),
      ...list("Cited text that moved", (diff.citations_moved || []).map((m) => `[${m.id}] now at characters ${m.new_start}–${m.new_end}`), "diff-moved")
    );
    if (!block.childNodes.length) block.append(el("p", { class: "muted" }, "Asked again, the answer states the same."));
    block.append(el("p", { class: "small" }, el("a", { href: answerPath(diff.after.id) }, "Open the new answer")));
    return block;
  }

  /** Show an answer (and, from the audit log, its review status and evidence drift) in the Ask view. */
  function showAnswer(answer, record) {
    const out = $("answer");
    clear(out);
    out.append(
      el("div", { class: "answer-head" }, el("h2", { id: "answer-title", class: "answer-title" }, "Answer"), shareButton(answer.id)),
      el("p", { class: "answer-question" }, answer.question)
    );
    if (record) {
      out.append(
        el(
          "p",
          { class: "record-line muted small" },
          el("span", { class: `badge status-badge status-${record.status}` }, STATUS_LABELS[record.status]),
          ` asked ${formatTime(record.created_at)}`,
          record.group && record.group.size > 1 ? ` · asked ${record.group.size} times with this configuration and corpus` : ""
        )
      );
      if (record.evidence_changed) out.append(driftBanner(record, me.can("review") ? () => {} : null));
    }
    out.append(...renderAnswer(answer, { changed: record ? record.changed_citations : [] }));
    out.hidden = false;
    out.dataset.state = answer.abstained ? "abstained" : "answered";
    if (record && record.evidence_changed) out.dataset.drift = "changed";
    else delete out.dataset.drift;
  }

  /** The page at /answers/{id}: the answer as served, read from the audit log. */
  async function loadAnswerPage(id) {
    const status = $("ask-status");
    setStatus(status, "Loading the answer…", "busy");
    try {
      const record = await api(`/v1/answers/${encodeURIComponent(id)}`);
      showAnswer(record.answer, record);
      document.title = `${record.question.slice(0, 80)} · medcite`;
      setStatus(status, ...answerStatus(record.answer));
    } catch (err) {
      $("answer").hidden = true;
      setStatus(status, err.status === 404 ? "This answer is not in the audit log (wrong link, or another server)." : err.message, "error");
    }
  }

  askForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    const status = $("ask-status");
    const out = $("answer");
    if (!text) {
      setStatus(status, "Type a question first.", "error");
      question.focus();
      return;
    }
    $("ask-button").disabled = true;
    out.setAttribute("aria-busy", "true");
    setStatus(status, "Searching the documents and checking every citation…", "busy");
    try {
      const answer = await api("/v1/ask", { method: "POST", json: { question: text } });
      showAnswer(answer, null);
      // Its own address: a reload shows the same answer, and the link can be shared.
      history.pushState({ answer: answer.id }, "", answerPath(answer.id));
      setStatus(status, ...answerStatus(answer));
    } catch (err) {
      setStatus(status, err.message, "error");
    } finally {
      $("ask-button").disabled = false;
      out.removeAttribute("aria-busy");
    }
  });

  window.addEventListener("popstate", () => {
    const id = answerIdFromPath();
    if (id) loadAnswerPage(id);
    else {
      $("answer").hidden = true;
      setStatus($("ask-status"), "", "");
    }
    route();
  });

  // ------------------------------------------------------------------ source dialog
  const dialog = $("source-dialog");
  $("source-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });

  async function fetchDocument(docId) {
    if (!docCache.has(docId)) docCache.set(docId, api(`/v1/documents/${encodeURIComponent(docId)}`));
    try {
      return await docCache.get(docId);
    } catch (err) {
      docCache.delete(docId);
      throw err;
    }
  }

  /** Open a document; with a citation, highlight its span and scroll it into view. */
  async function openSource(docId, citation) {
    const textBox = $("source-text");
    const note = $("source-note");
    clear(textBox);
    note.hidden = true;
    $("source-title").textContent = citation ? citation.source : "Loading…";
    $("source-meta").textContent = "";
    if (!dialog.open) dialog.showModal();
    let doc;
    try {
      doc = await fetchDocument(docId);
    } catch (err) {
      note.textContent = err.message;
      note.hidden = false;
      return;
    }
    $("source-title").textContent = doc.title || doc.source;
    $("source-meta").textContent = [
      doc.title ? doc.source : null,
      doc.format.toUpperCase(),
      `${doc.chars.toLocaleString()} characters`,
      citation ? `citation [${citation.id}] at characters ${citation.start}–${citation.end}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
    if (!citation) {
      textBox.append(doc.text);
      textBox.scrollTop = 0;
      textBox.focus();
      return;
    }
    const span = doc.text.slice(citation.start, citation.end);
    if (span !== citation.text) {
      note.textContent = "This document has changed since the answer was given; the cited text is no longer at these offsets.";
      note.hidden = false;
    }
    const mark = el("mark", { id: "cited-span", class: "cited", tabindex: "-1" }, span);
    textBox.append(doc.text.slice(0, citation.start), mark, doc.text.slice(citation.end));
    requestAnimationFrame(() => {
      mark.scrollIntoView({ block: "center" });
      mark.focus({ preventScroll: true });
    });
  }

  // ------------------------------------------------------------------ documents view
  const uploadForm = $("upload-form");
  const fileInput = $("files");
  const dropzone = $("dropzone");

  fileInput.addEventListener("change", () => {
    const n = fileInput.files.length;
    $("files-hint").textContent = n
      ? `${n} file${n > 1 ? "s" : ""} selected: ${Array.from(fileInput.files).map((f) => f.name).join(", ")}`
      : "Choose files or drop them here.";
  });
  ["dragenter", "dragover"].forEach((type) =>
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    })
  );
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragging")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      fileInput.dispatchEvent(new Event("change"));
    }
  });

  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const status = $("upload-status");
    const progress = $("upload-progress");
    if (!fileInput.files.length) {
      setStatus(status, "Choose at least one file.", "error");
      fileInput.focus();
      return;
    }
    const data = new FormData();
    for (const file of fileInput.files) data.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    progress.hidden = false;
    progress.value = 0;
    $("upload-button").disabled = true;
    setStatus(status, "Uploading…", "busy");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        setStatus(status, `Uploading… ${progress.value}%`, "busy");
      }
    });
    xhr.upload.addEventListener("load", () => {
      progress.removeAttribute("value"); // indeterminate while the server embeds the text
      setStatus(status, "Uploaded. Reading and indexing the documents…", "busy");
    });
    const done = () => {
      $("upload-button").disabled = false;
      progress.hidden = true;
    };
    xhr.addEventListener("load", () => {
      done();
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (err) {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        const parts = [`${body.added} added`, `${body.updated} updated`, `${body.unchanged} unchanged`];
        let message = `Done: ${parts.join(", ")} (${body.chunks} chunks).`;
        if (body.errors.length) message += ` Not ingested: ${body.errors.map((e) => `${e.source} (${e.error})`).join("; ")}.`;
        setStatus(status, message, body.errors.length ? "warn" : "ok");
        uploadForm.reset();
        fileInput.dispatchEvent(new Event("change"));
        docCache.clear();
        loadDocuments();
        loadHealth();
      } else {
        setStatus(status, errorMessage(xhr.status, body), "error");
      }
    });
    xhr.addEventListener("error", () => {
      done();
      setStatus(status, "The upload failed: the service could not be reached.", "error");
    });
    xhr.send(data);
  });

  async function deleteDocument(doc) {
    if (!window.confirm(`Delete “${doc.source}”? Answers will no longer cite it.`)) return;
    const status = $("upload-status");
    try {
      await api(`/v1/documents/${encodeURIComponent(doc.doc_id)}`, { method: "DELETE" });
      docCache.delete(doc.doc_id);
      setStatus(status, `Deleted ${doc.source}.`, "ok");
      loadDocuments();
      loadHealth();
    } catch (err) {
      setStatus(status, err.message, "error");
    }
  }

  /** A document's length as a reader thinks of it: printed pages (about 3,000 characters each). */
  function lengthLabel(chars) {
    const pages = chars / 3000;
    if (pages < 0.75) return "under a page";
    if (pages < 1.5) return "about 1 page";
    return `about ${Math.round(pages).toLocaleString()} pages`;
  }

  async function loadDocuments() {
    const body = $("documents-body");
    try {
      const data = await api("/v1/documents");
      clear(body);
      for (const doc of data.documents) {
        body.append(
          el(
            "tr",
            {},
            el(
              "td",
              { "data-label": "Document" },
              el("span", { class: "doc-name" }, doc.title || doc.source),
              doc.title ? el("span", { class: "muted small doc-sub" }, doc.source) : null
            ),
            el("td", { "data-label": "Format" }, el("span", { class: "badge" }, doc.format)),
            el("td", { "data-label": "Length", class: "num", title: `${doc.chars.toLocaleString()} characters of text` }, lengthLabel(doc.chars)),
            el("td", { "data-label": "Ingested" }, formatTime(doc.ingested_at)),
            el(
              "td",
              { class: "row-actions" },
              el("button", { type: "button", class: "btn btn-small", onclick: () => openSource(doc.doc_id, null), "aria-label": `View ${doc.source}` }, "View"),
              el("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => deleteDocument(doc), "aria-label": `Delete ${doc.source}` }, "Delete")
            )
          )
        );
      }
      $("documents-count").textContent = `Ingested documents (${data.documents.length})`;
      $("documents-empty").hidden = data.documents.length > 0;
    } catch (err) {
      setStatus($("upload-status"), err.message, "error");
    }
  }
  $("documents-refresh").addEventListener("click", loadDocuments);

  // ------------------------------------------------------------------ review view
  const reviewer = $("reviewer-name");
  reviewer.value = localStorage.getItem(REVIEWER_STORAGE) || "";
  reviewer.addEventListener("change", () => localStorage.setItem(REVIEWER_STORAGE, reviewer.value.trim()));

  /** With a named API key the reviewer is the key's holder: no name to type. */
  function refreshReviewer() {
    const field = $("reviewer-field");
    const named = $("reviewer-named");
    if (me.name) {
      field.hidden = true;
      named.hidden = false;
      named.textContent = `Reviewing as ${me.name}`;
    } else {
      field.hidden = false;
      named.hidden = true;
    }
  }

  const EVENT_LABELS = {
    evidence_changed: (h) => `Evidence changed${h.document ? ` in ${h.document}` : ""}${h.previous_status !== h.status ? ` · back to ${STATUS_LABELS[h.status]}` : ""}`,
    recheck: (h) => `Rechecked by ${h.reviewer} (${h.role})`,
    group_review: (h) => `${STATUS_LABELS[h.status]} by ${h.reviewer} (${h.role}), with an identical ask`,
    review: (h) => `${STATUS_LABELS[h.status]} by ${h.reviewer} (${h.role})`,
  };

  function historyItem(h) {
    const label = (EVENT_LABELS[h.event] || EVENT_LABELS.review)(h);
    return el(
      "li",
      { class: `history-${h.event || "review"}` },
      el("span", { class: `status-dot status-${h.event === "evidence_changed" ? "changed" : h.status}` }),
      `${label} · ${formatTime(h.at)}`,
      h.comment ? el("span", { class: "history-comment" }, `“${h.comment}”`) : null
    );
  }

  /** What a group card says about its identical asks and how they were decided. */
  function groupNote(record, group) {
    const same = `same question, configuration hash ${record.config_hash} and corpus version ${record.corpus_version}`;
    const counts = Object.entries(group.statuses || {});
    const waiting = (group.statuses || {})[record.status] || group.size;
    if (counts.length <= 1) return `One review covers all ${group.size} identical asks (${same}).`;
    const shown = counts.map(([status, n]) => `${n} ${STATUS_LABELS[status].toLowerCase()}`).join(", ");
    return `${group.size} identical asks (${same}): ${shown}. A review here covers the ${waiting} ${STATUS_LABELS[record.status].toLowerCase()}.`;
  }

  function reviewCard(record) {
    const id = record.id;
    const group = record.group || { size: 1 };
    const covered = (group.statuses || {})[record.status] || group.size;
    const comment = el("textarea", { id: `comment-${id}`, rows: "2", maxlength: "5000", placeholder: "What did you check? Why this decision?" });
    const feedback = el("p", { class: "status", role: "status", "aria-live": "polite" });
    const actions = el("div", { class: "review-actions" });
    for (const next of record.allowed_next) {
      actions.append(
        el(
          "button",
          {
            type: "button",
            class: `btn ${next === "approved" ? "btn-primary" : next === "rejected" ? "btn-danger" : ""}`,
            onclick: () => submitReview(record, next, comment.value, feedback),
          },
          covered > 1 ? GROUP_ACTION_LABELS[next](covered) : ACTION_LABELS[next] || next
        )
      );
    }
    const history = record.history.length
      ? el("ol", { class: "history" }, record.history.map(historyItem))
      : el("p", { class: "muted small" }, "No review yet.");

    return el(
      "li",
      { class: "card review-card", "data-status": record.status, "data-group-size": group.size, "data-drift": record.evidence_changed ? "changed" : null },
      el(
        "div",
        { class: "review-head" },
        el("span", { class: `badge status-badge status-${record.status}` }, STATUS_LABELS[record.status]),
        record.answer.abstained ? el("span", { class: "badge badge-warn" }, "abstained") : null,
        record.evidence_changed ? el("span", { class: "badge badge-drift" }, "evidence changed") : null,
        group.size > 1
          ? el("span", { class: "badge badge-group", title: "Same question, configuration, corpus and answer: one review covers them all" }, `asked ${group.size}×`)
          : null,
        el(
          "span",
          { class: "muted small" },
          group.size > 1
            ? `${formatTime(group.first_asked_at)} – ${formatTime(group.last_asked_at)} · last asked as ${record.role}`
            : `${formatTime(record.created_at)} · asked as ${record.role}`
        ),
        el("a", { class: "small review-link", href: answerPath(record.id) }, "Answer page")
      ),
      el("h2", { class: "review-question" }, record.question),
      group.size > 1 ? el("p", { class: "group-note small" }, groupNote(record, group)) : null,
      record.evidence_changed ? driftBanner(record, () => loadReviews()) : null,
      el("p", { class: "review-preview" }, preview(record.answer)),
      el(
        "details",
        { class: "review-answer" },
        el("summary", {}, `Show the answer (${record.answer.citations.length} citations)`),
        el("div", { class: "answer answer-compact" }, renderAnswer(record.answer, { compact: false, changed: record.changed_citations }))
      ),
      el("h3", { class: "section-title" }, "History"),
      history,
      record.allowed_next.length
        ? el(
            "div",
            { class: "review-form" },
            el("label", { for: `comment-${id}`, class: "field-label" }, "Comment (optional)"),
            comment,
            actions,
            feedback
          )
        : el("p", { class: "muted small" }, "Review complete.")
    );
  }

  async function submitReview(record, status, comment, feedback) {
    const name = reviewer.value.trim();
    if (!me.name && !name) {
      setStatus(feedback, "Enter your name as reviewer at the top of the page first.", "error");
      reviewer.focus();
      return;
    }
    if (!me.name) localStorage.setItem(REVIEWER_STORAGE, name);
    const body = { status, comment: comment.trim() || null };
    if (!me.name) body.reviewer = name;
    try {
      await api(`/v1/answers/${encodeURIComponent(record.id)}/review`, { method: "POST", json: body });
      const size = record.group ? (record.group.statuses || {})[record.status] || record.group.size : 1;
      setStatus($("review-status"), `Answer${size > 1 ? ` and its ${size - 1} identical ask${size > 2 ? "s" : ""}` : ""} marked ${STATUS_LABELS[status].toLowerCase()}.`, "ok");
      loadReviews();
    } catch (err) {
      setStatus(feedback, err.message, "error");
    }
  }

  async function loadReviews() {
    const list = $("review-list");
    const filter = $("review-filter").value;
    const status = $("review-status");
    try {
      const params = new URLSearchParams({ group: "true" });
      if (filter === "evidence_changed") params.set("evidence_changed", "true");
      else if (filter) params.set("status", filter);
      const data = await api(`/v1/answers?${params}`);
      clear(list);
      data.answers.forEach((record) => list.append(reviewCard(record)));
      const what = filter === "evidence_changed" ? "changed-evidence" : filter ? STATUS_LABELS[filter].toLowerCase() : "recorded";
      if (!status.dataset.kind || status.dataset.kind !== "ok") {
        setStatus(status, data.total ? `${data.total} ${what} answer${data.total > 1 ? "s" : ""} (identical asks grouped).` : `No ${what} answers yet.`, "");
      }
    } catch (err) {
      clear(list);
      setStatus(status, err.message, "error");
    }
  }
  $("review-filter").addEventListener("change", () => {
    setStatus($("review-status"), "", "");
    loadReviews();
  });
  $("review-refresh").addEventListener("click", () => {
    setStatus($("review-status"), "", "");
    loadReviews();
  });

  // ------------------------------------------------------------------ API key
  const keyToggle = $("key-toggle");
  const keyPanel = $("key-panel");
  function refreshKeyState() {
    $("key-dot").dataset.set = apiKey() ? "yes" : "no";
    keyToggle.title = apiKey() ? "An API key is set" : "No API key set";
  }
  keyToggle.addEventListener("click", () => {
    const open = keyPanel.hidden;
    keyPanel.hidden = !open;
    keyToggle.setAttribute("aria-expanded", String(open));
    if (open) $("api-key").focus();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    if (value) localStorage.setItem(KEY_STORAGE, value);
    $("api-key").value = "";
    keyPanel.hidden = true;
    keyToggle.setAttribute("aria-expanded", "false");
    refreshKeyState();
    showBanner("");
    loadMe().then(route);
  });
  $("key-clear").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    $("api-key").value = "";
    refreshKeyState();
  });

  // ------------------------------------------------------------------ health
  async function loadHealth() {
    try {
      const h = await api("/health");
      $("health").textContent = `Service ok · ${h.documents} document${h.documents === 1 ? "" : "s"} · ${h.chunks} chunks`;
      if (h.documents === 0) showBanner("No documents are ingested yet: add some on the Documents page before asking.");
    } catch (err) {
      $("health").textContent = err.message;
    }
  }

  // ------------------------------------------------------------------ routing
  const views = { ask: $("view-ask"), documents: $("view-documents"), review: $("view-review") };
  function route() {
    const name = (location.hash.replace(/^#\/?/, "") || "ask").split("?")[0];
    const view = views[name] ? name : "ask";
    for (const [key, section] of Object.entries(views)) section.hidden = key !== view;
    document.querySelectorAll(".mainnav a").forEach((a) => {
      if (a.dataset.view === view) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    if (view === "documents") loadDocuments();
    if (view === "review") loadReviews();
    return view;
  }
  window.addEventListener("hashchange", () => {
    const view = route();
    const heading = views[view].querySelector("h1");
    if (heading) heading.focus();
  });

  refreshKeyState();
  route();
  loadHealth();
  loadMe().then(() => {
    const id = answerIdFromPath();
    if (id) loadAnswerPage(id);
  });
})();
