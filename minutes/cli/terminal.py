"""Text from documents and sites made safe to print on a terminal.

A passage, title or URL may hold escape sequences (ESC [ ... clears the screen, sets the window
title or forges output); printed raw they are run by the terminal. Control characters (C0, DEL,
C1), line separators and the bidirectional overrides that reorder what is shown are written as
visible escapes instead (`\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import re

_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
# json.dumps already escapes C0 inside strings; the newlines left are the layout's own.
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")


def printable(text: str) -> str:
    """`text` with every control character written as a Python-style escape."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def printable_json(text: str) -> str:
    """JSON text with the controls that json.dumps(ensure_ascii=False) leaves raw written as \\uXXXX.

    They can only occur inside strings, where \\uXXXX is the same value, so the JSON still parses
    to exactly the same data.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
