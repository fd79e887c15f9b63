"""HTML as readable text: one line per block, a tab between table cells. Pure: markup in, text out.

Shared by the HTML reader and the ModernGov pages (whose text fields are HTML), so it lives
apart from both. BeautifulSoup on lxml, forgiving of the Word-generated markup councils
publish (`<p class="MsoNormal">`, stray `<o:p>`).

Text a browser does not show is not text of the page: scripts, styles, navigation, and
elements hidden by the `hidden` attribute, `aria-hidden="true"` or an inline
`display:none`; a caller may name its site's own hiding classes (ModernGov's `mgHide`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
              "section", "article", "blockquote", "pre", "dd", "dt", "dl", "header", "footer", "form"}
DROP_TAGS = ("script", "style", "noscript", "template", "svg", "head", "nav", "iframe", "button", "select")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def drop_hidden(soup: Any, hidden_classes: Iterable[str] = ()) -> None:
    """Remove, in place, what a browser would not show (see the module's note)."""
    classes = set(hidden_classes)
    for tag in soup.find_all(DROP_TAGS):
        if not is_gone(tag):
            tag.decompose()
    hidden = [tag for tag in soup.find_all(True)
              if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"
              or _HIDDEN_STYLE.search(str(tag.get("style", "")))
              or (classes and classes.intersection(tag.get("class") or ()))]
    for tag in hidden:
        if not is_gone(tag):
            tag.decompose()


def is_gone(tag: Any) -> bool:
    """Whether `tag` was decomposed (with an ancestor). Read from its own fields: bs4 takes an
    unknown attribute for a search of its children, which is quadratic on deep markup."""
    return bool(vars(tag).get("_decomposed"))


def html_to_text(markup: str, hidden_classes: Iterable[str] = ()) -> str:
    """Readable text of an HTML fragment or page: one line per block, a tab between table cells."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(markup, "lxml")
    drop_hidden(soup, hidden_classes)
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ in ("Comment", "Doctype", "ProcessingInstruction", "Declaration"):
                    continue
                current.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.split(":")[-1]
                if name == "tr":
                    flush()
                    cells = [" ".join(c.get_text(" ").split()) for c in child.find_all(["td", "th"], recursive=False)]
                    cells = [c for c in cells if c]
                    if cells:
                        lines.append("\t".join(cells))
                    continue
                if name == "li":
                    flush()
                    current.append("• ")
                    walk(child)
                    flush()
                    continue
                block = name in BLOCK_TAGS
                if block:
                    flush()
                walk(child)
                if block:
                    flush()

    walk(soup)
    flush()
    return "\n".join(lines)
