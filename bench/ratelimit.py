"""The rate limiter under a flood of distinct clients: time per request and memory held.

    .venv/bin/python -m bench.ratelimit                       # 1k, 60k and 200k clients, 600/min
    .venv/bin/python -m bench.ratelimit --clients 1000 100000 --json .bench/ratelimit.json

Each client sends one request (the worst case for the limiter: every request is a new key), at
`--per-minute`; after each step it times `--probes` requests of fresh clients one by one and
reports the median and the slowest, and how many counters the storage holds. What it measures is
`minutes.web.security.ClientLimiter.wait`, the whole per-request work of the rate limit (the
middleware around it only reads the client address). Results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from pathlib import Path

from limits import RateLimitItemPerMinute

from minutes.web.security import ClientLimiter


def address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1_000, 60_000, 200_000])
    parser.add_argument("--per-minute", type=int, default=600)
    parser.add_argument("--probes", type=int, default=2_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--memory", action="store_true", help="trace allocations (slower) to report MB held")
    args = parser.parse_args()

    if args.memory:
        tracemalloc.start()
    limiter = ClientLimiter(RateLimitItemPerMinute(args.per_minute))
    rows, seen = [], 0
    for target in sorted(args.clients):
        started = time.perf_counter()
        while seen < target:
            limiter.wait(address(seen))
            seen += 1
        fill = time.perf_counter() - started
        probes = []
        for i in range(args.probes):
            key = f"192.{i >> 16 & 255}.{i >> 8 & 255}.{target % 250}-{i}"
            t = time.perf_counter()
            limiter.wait(key)
            probes.append((time.perf_counter() - t) * 1e6)
        current = tracemalloc.get_traced_memory()[0] if args.memory else 0
        row = {"clients": target, "counters": limiter.keys(), "median_us": round(statistics.median(probes), 1),
               "p99_us": round(sorted(probes)[int(len(probes) * 0.99)], 1), "max_us": round(max(probes), 1),
               "traced_mb": round(current / 1e6, 1), "fill_s": round(fill, 2)}
        rows.append(row)
        print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
