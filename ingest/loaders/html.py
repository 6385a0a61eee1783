"""HTML (.html, .htm): block structure and <h1>-<h6> headings; navigation and scripts dropped."""

from __future__ import annotations

import re

from ingest.errors import LoaderError
from ingest.loaders.common import Extracted, mark_heading, one_line, resolve_markers, strip_markers
from ingest.loaders.decoding import decode_text
from ingest.loaders.limits import check_unpacked
from ingest.settings import IngestLimits

_HTML_DROP = (
    "script",
    "style",
    "noscript",
    "nav",
    "aside",
    "form",
    "svg",
    "template",
    "iframe",
    "button",
    "select",
    "canvas",
    "object",
    "embed",
    "noembed",
    "head",
)
# Site-wide banners; a <header>/<footer> inside <article> or <main> belongs to the content
# (it usually holds the article's own <h1>), so only the others are dropped.
_HTML_DROP_OUTSIDE_CONTENT = ("header", "footer")
_HTML_PARAGRAPH = frozenset(
    "p blockquote pre table ul ol dl figure section article main hr address details fieldset center".split()
)
_HTML_LINE = frozenset("div tr li dt dd caption figcaption summary legend thead tbody tfoot".split())
_HTML_CELLS = frozenset({"td", "th"})
_HTML_HEADING = re.compile(r"^h([1-6])$")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def extract(raw: bytes, limits: IngestLimits) -> Extracted:
    check_unpacked(len(raw), "HTML file", limits)
    from selectolax.lexbor import LexborHTMLParser

    try:
        tree = LexborHTMLParser(decode_text(raw))
    except LoaderError:
        raise
    except Exception as exc:  # selectolax raises plain errors on inputs it cannot parse
        raise LoaderError(f"not a valid HTML file: {exc}") from exc
    title_node = tree.css_first("title")
    page_title = one_line(title_node.text()) if title_node is not None else ""
    for tag in _HTML_DROP_OUTSIDE_CONTENT:
        for node in tree.css(tag):
            if not _has_ancestor(node, ("article", "main")):
                node.decompose()
    tree.strip_tags(list(_HTML_DROP), recursive=True)
    root = tree.body if tree.body is not None else tree.root
    marked = _html_marked_text(root) if root is not None else ""
    text, headings = resolve_markers(marked)
    title = page_title or next((h.title for h in headings if h.level == 1), None)
    return Extracted(text=text, headings=headings, title=title or None)


def _has_ancestor(node: object, tags: tuple[str, ...]) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


class _HtmlTextBuilder:
    """Collects text with block breaks that collapse: a run of breaks keeps the strongest.

    Whitespace between blocks (source indentation) is dropped, so ``</li>\n  <li>``
    gives one line break and ``</p> <p>`` one blank line.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._pending = 0  # newlines owed before the next visible text

    def brk(self, newlines: int) -> None:
        if self.parts:
            self._pending = max(self._pending, newlines)

    def text(self, text: str) -> None:
        if self._pending:
            if not text.strip():
                return
            self.parts.append("\n" * self._pending)
            self._pending = 0
            text = text.lstrip()
        self.parts.append(text)

    def hard_break(self) -> None:
        """A <br>: a line break that does not merge with the one before it."""
        if not self._pending:
            self.parts.append("\n")

    def take_from(self, index: int) -> str:
        """Remove and return everything collected since ``len(parts) == index``."""
        taken = "".join(self.parts[index:])
        del self.parts[index:]
        self._pending = 0
        return taken


def _html_marked_text(root: object) -> str:
    """Block structure of an HTML subtree as text, headings wrapped in markers.

    Iterative (explicit stack) so deeply nested pages cannot hit the recursion limit.
    """
    out = _HtmlTextBuilder()
    heading_starts: list[int] = []
    pre_depth = 0
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag  # type: ignore[attr-defined]
        if leaving:
            if tag == "pre":
                pre_depth -= 1
            heading = _HTML_HEADING.match(tag)
            if heading:
                title = out.take_from(heading_starts.pop())
                marked = mark_heading(title, int(heading.group(1))).strip("\n")
                if marked:
                    out.brk(2)
                    out.text(marked)
                out.brk(2)
            elif tag in _HTML_PARAGRAPH:
                out.brk(2)
            elif tag in _HTML_LINE:
                out.brk(1)
            continue
        if tag == "-text":
            content = strip_markers(node.text_content or "")  # type: ignore[attr-defined]
            out.text(content if pre_depth else _HTML_SPACE.sub(" ", content))
            continue
        if tag.startswith("-"):  # comments, doctype
            continue
        _html_open(out, node, tag)
        if tag == "pre":
            pre_depth += 1
        if _HTML_HEADING.match(tag):
            out.brk(2)
            heading_starts.append(len(out.parts))
        stack.append((node, True))
        children = list(node.iter(include_text=True))  # type: ignore[attr-defined]
        stack.extend((child, False) for child in reversed(children))
    return "".join(out.parts)


def _html_open(out: _HtmlTextBuilder, node: object, tag: str) -> None:
    """What an element contributes before its content."""
    if tag == "br":
        out.hard_break()
    elif tag == "li":
        out.brk(1)
        out.text("- ")
    elif tag in _HTML_CELLS:
        prev = node.prev  # type: ignore[attr-defined]
        while prev is not None and prev.tag in ("-text", "-comment"):
            prev = prev.prev
        if prev is not None and prev.tag in _HTML_CELLS:
            out.text(" | ")
    elif tag in _HTML_PARAGRAPH:
        out.brk(2)
    elif tag in _HTML_LINE:
        out.brk(1)
