"""Plain text and Markdown documents with optional YAML front matter.

Front matter fields: document_id (stable id; defaults to the path), title, council,
committee, item, date (ISO 8601 day, month, year or START/END), source_url (a confirmed
source only), see_also (unconfirmed pages), attribution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from minutes.dates import parse_span
from minutes.errors import InputError
from minutes.records import Document

KNOWN_FIELDS = {"document_id", "title", "council", "committee", "item", "date", "source_url",
                "see_also", "attribution", "procedural"}


class FrontMatterError(InputError):
    pass


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) for text that may start with a `---` YAML block."""
    if not raw.startswith("---"):
        return {}, raw
    lines = raw.split("\n")
    if lines[0].strip() != "---":
        return {}, raw
    for number, line in enumerate(lines[1:], 1):
        if line.strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("\n".join(lines[1:number])) or {}
            except (yaml.YAMLError, ValueError) as exc:  # ValueError: an unquoted impossible date
                raise FrontMatterError(f"front matter is not valid YAML: {exc}") from None
            if not isinstance(meta, dict):
                raise FrontMatterError("front matter must be a mapping of field: value")
            return meta, "\n".join(lines[number + 1:])
    raise FrontMatterError("front matter opened with --- but never closed")


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


def read_text_document(path: Path, root: Path) -> Iterator[Document]:
    raw = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    meta, body = split_front_matter(raw)
    if not body.strip():
        raise ValueError("document is empty")
    default_id = path.relative_to(root).with_suffix("").as_posix()
    yield document_from_meta(meta, body, default_id, str(path))
