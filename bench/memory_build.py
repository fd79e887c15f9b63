"""One build of a prepared latency corpus, alone in its process, for `python -m bench.indexing memory`.

    .venv/bin/python -m bench.memory_build 100k     # prints: passages, stand-in vectors, peak RSS bytes

Vectors come from the prepared vector cache (`python -m bench.latency prepare`); texts it lacks
get `Filler` vectors. The build runs in a scratch folder that is removed afterwards.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
from pathlib import Path

from bench.latency import PERF
from minutes.build import build_index
from tests.support.embedders import Filler


def main() -> None:
    size = sys.argv[1]
    work = Path(tempfile.mkdtemp(prefix="memory-", dir=PERF))
    try:
        shutil.copy(PERF / f"index-{size}" / "cache.sqlite", work / "cache.sqlite")
        report = build_index([PERF / f"corpus-{size}"], work, Filler())
    finally:
        shutil.rmtree(work)
    print(report.passages, report.embedded, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


if __name__ == "__main__":
    main()
