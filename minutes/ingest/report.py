"""The end-of-run summary: files read, passages, failures (file and reason), gaps, time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from minutes.ingest import Problem

KINDS = (("failed", "failed (not indexed)"), ("duplicate", "duplicates (indexed once)"),
         ("gap", "gaps (indexed without them)"), ("skipped", "skipped (not read: links, hidden folders)"))


def problem_lines(problems: Iterable[Problem], *, examples: int = 8) -> list[str]:
    """Problems grouped by kind, then by reason; every failure listed, gaps and copies sampled."""
    problems = list(problems)
    lines: list[str] = []
    for kind, heading in KINDS:
        chosen = [p for p in problems if p.kind == kind]
        if not chosen:
            continue
        lines.append(f"{heading}: {len(chosen)}")
        if kind == "failed":
            lines.extend(f"  {p.source}: {p.reason}" for p in chosen)
            continue
        by_reason: dict[str, list[str]] = defaultdict(list)
        for p in chosen:
            if kind == "duplicate":
                key, shown = "same content as a file already read", f"{p.source} ({p.reason})"
            elif p.reason.startswith("listed in "):
                key, shown = "named in metadata.json but the file is missing", f"{p.source} ({p.reason})"
            else:
                key, shown = p.reason, p.source
            by_reason[key].append(shown)
        for reason, sources in by_reason.items():
            lines.append(f"  {reason}: {len(sources)}")
            lines.extend(f"    {s}" for s in sources[:examples])
            if len(sources) > examples:
                lines.append(f"    ... and {len(sources) - examples} more")
    return lines
