"""Plain text and Markdown documents with optional YAML front matter.

Front matter fields: document_id (stable id; defaults to the path), title, council,
committee, item, date (ISO 8601 day, month, year or START/END), source_url (a confirmed
source only), see_also (unconfirmed pages), attribution.

Front matter is read with python-frontmatter's YAML handler on a safe loader that refuses
aliases (`*name`: a 400-byte "billion laughs" expands to gigabytes) and blocks over 64 KiB.
A file that is not a trusted part of the user's corpus (a paper `minutes import` downloaded)
is read as plain text: its front matter could claim another document's id, council or URL.

Bytes are decoded as UTF-8 (a byte-order mark is dropped, so front matter behind it is
still found), UTF-16 with its byte-order mark, and otherwise as charset-normalizer judges
(Windows-1252 exports keep their £).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from minutes.dates import parse_span
from minutes.errors import InputError
from minutes.records import Document

KNOWN_FIELDS = {"document_id", "title", "council", "committee", "item", "date", "source_url",
                "see_also", "attribution", "procedural"}
MAX_FRONT_MATTER = 64 * 1024


class FrontMatterError(InputError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases: anchors may be set but never expanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """YAML without aliases or arbitrary objects; raises yaml.YAMLError or ValueError."""
    if len(text) > MAX_FRONT_MATTER:
        raise ValueError(f"more than {MAX_FRONT_MATTER // 1024} KiB of YAML")
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)


class _Handler(YAMLHandler):
    def load(self, fm: str, **_kwargs: object) -> Any:
        return safe_yaml(fm)


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) for text that may start with a `---` YAML block; the body exactly as written."""
    handler = _Handler()
    if not raw.startswith("---") or raw.split("\n", 1)[0].strip() != "---":
        return {}, raw
    try:
        block, body = handler.split(raw)
    except ValueError:
        raise FrontMatterError("front matter opened with --- but never closed") from None
    try:
        meta = handler.load(block) or {}
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an unquoted impossible date
        raise FrontMatterError(f"front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise FrontMatterError("front matter must be a mapping of field: value")
    return meta, body[1:] if body.startswith("\n") else body


def decode(data: bytes) -> str:
    """Text of a file in whichever encoding it is in; Windows line ends become \\n."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            text = data[len(bom):].decode(encoding, errors="replace")
            break
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data[:1 << 20]).best()
            text = data.decode(best.encoding if best else "cp1252", errors="replace")
    return text.replace("\r\n", "\n")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _urls(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(str(item).strip() for item in items if str(item).strip())


def document_from_meta(meta: dict[str, Any], body: str, default_id: str, path: str | None) -> Document:
    date_text = _text(meta.get("date"))
    extra = {k: str(v) for k, v in meta.items() if k not in KNOWN_FIELDS and v is not None}
    return Document(
        document_id=_text(meta.get("document_id")) or default_id,
        text=body,
        title=_text(meta.get("title")),
        council=_text(meta.get("council")),
        committee=_text(meta.get("committee")),
        item=_text(meta.get("item")),
        date=parse_span(date_text) if date_text else None,
        source_url=_text(meta.get("source_url")),
        see_also=_urls(meta.get("see_also")),
        attribution=_text(meta.get("attribution")),
        path=path,
        procedural=bool(meta.get("procedural", False)),
        extra=extra,
    )


def read_text_bytes(data: bytes, path: Path, root: Path, *, trusted: bool = True) -> Iterator[Document]:
    """A text document from bytes already read; front matter only when `trusted`."""
    raw = decode(data)
    meta, body = split_front_matter(raw) if trusted else ({}, raw)
    if not body.strip():
        raise ValueError("document is empty")
    default_id = path.relative_to(root).with_suffix("").as_posix()
    yield document_from_meta(meta, body, default_id, str(path))


def read_text_document(path: Path, root: Path) -> Iterator[Document]:
    return read_text_bytes(path.read_bytes(), path, root)


__all__ = ["FrontMatterError", "decode", "document_from_meta", "frontmatter", "read_text_bytes",
           "read_text_document", "safe_yaml", "split_front_matter"]
