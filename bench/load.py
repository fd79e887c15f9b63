"""Throughput under load: QPS and latency of the real server at 1, 10 and 50 concurrent clients.

    .venv/bin/python -m bench.load --index .bench/perf/index-100k [--clients 1,10,50]
        [--requests 600] [--seconds 30] [--url http://127.0.0.1:8000]

Starts `minutes serve` on a free loopback port (unless --url is given), waits for /healthz,
measures the server's CPU time per search (100 sequential requests; the cores divided by
it bound the QPS), then for each concurrency level runs that many client threads, each
with its own keep-alive connection, sending GET /api/search?q=...&k=10 with real
questions (the dev set, then QMSum's) until --requests answers or --seconds have passed,
whichever comes first. Any answer other than 200, or any connection error, counts as an
error. The clients share the server's 2 cores, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse
from pathlib import Path

from bench.common import (
    SCRATCH,
    cpu_seconds,
    machine,
    percentiles,
    rss_bytes,
    start_server,
    stop_server,
)
from bench.latency import query_texts


def run_level(url: str, clients: int, queries: list[str], max_requests: int, max_seconds: float) -> dict[str, object]:
    parsed = urllib.parse.urlsplit(url)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.perf_counter() + max_seconds

    def take() -> int | None:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= deadline:
                return None
            issued += 1
            return issued

    def client() -> None:
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
        while (number := take()) is not None:
            query = queries[number % len(queries)]
            path = f"/api/search?q={urllib.parse.quote(query)}&k=10"
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status == 200:
                        latencies.append(elapsed)
                    else:
                        errors.append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(type(exc).__name__)
                connection.close()
                connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stats = percentiles(latencies) if latencies else {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    return {"clients": clients, "answered": len(latencies), "errors": len(errors),
            "error_kinds": sorted(set(errors)), "seconds": round(elapsed, 1),
            "qps": round(len(latencies) / elapsed, 1), "p50_ms": round(stats["p50"], 1),
            "p95_ms": round(stats["p95"], 1), "p99_ms": round(stats["p99"], 1)}


def server_cpu_per_search(url: str, pid: int, queries: list[str]) -> dict[str, float]:
    """The server's CPU time per search, one request at a time, and the ceiling it puts on QPS:
    the machine's cores divided by it, were the server perfectly parallel and the clients free."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
    before = cpu_seconds(pid)
    for query in queries:
        connection.request("GET", f"/api/search?q={urllib.parse.quote(query)}&k=10")
        connection.getresponse().read()
    per_search = (cpu_seconds(pid) - before) / len(queries)
    connection.close()
    return {"cpu_ms": round(per_search * 1000, 1), "qps_ceiling": round((os.cpu_count() or 1) / per_search, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=SCRATCH / "perf" / "index-100k")
    parser.add_argument("--url", help="an already running server (default: start one on --index)")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--requests", type=int, default=600, help="answers per level, at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per level, at most")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    queries = query_texts(500)
    process = None
    startup = None
    url = args.url
    if url is None:
        process, url, startup = start_server(args.index)
    try:
        run_level(url, 2, queries[:20], 20, 30.0)  # warm-up: model, pages, caches
        cpu = server_cpu_per_search(url, process.pid, queries[:100]) if process else None
        levels = [run_level(url, int(c), queries, args.requests, args.seconds) for c in args.clients.split(",")]
        server_rss = rss_bytes(process.pid) if process else None
    finally:
        if process:
            stop_server(process)
    result = {"index": str(args.index), "startup_s": round(startup, 2) if startup else None,
              "server_rss_mb": round(server_rss / 1e6) if server_rss else None,
              "server_cpu_per_search": cpu, "levels": levels,
              "machine": machine()}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if cpu:
        print(f"\nserver CPU {cpu['cpu_ms']} ms a search, one at a time: at most {cpu['qps_ceiling']} QPS "
              f"on {os.cpu_count()} cores")
    print("\n| clients | answered | errors | QPS | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|")
    for level in levels:
        print(f"| {level['clients']} | {level['answered']} | {level['errors']} | {level['qps']} | {level['p50_ms']} "
              f"| {level['p95_ms']} | {level['p99_ms']} |")


if __name__ == "__main__":
    main()
