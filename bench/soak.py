"""Soak: 50 concurrent clients for 60 s against a real `minutes serve` on 127.0.0.1, several
runs against the same server process, counting errors and sampling the server's memory.

    .venv/bin/python -m bench.soak                          # 3 runs x 60 s, 50 clients, real model
    .venv/bin/python -m bench.soak --runs 5 --seconds 60 --model hashing --json .bench/soak.json

Bounded by design: it only ever talks to 127.0.0.1, to the server it started; each run lasts
`--seconds` and sends at most `--max-requests`. Clients mix what people do: JSON search, the
search page with its answer panel, documents, browse, timeline, export, health checks, static
files, and requests that must be refused (empty query, unknown document, bad date, k too big).

Passes when no request got an unexpected status or a connection error, and the server's RSS
after the last run is within `--rss-tolerance` (default 5 %) of its RSS after the first run
(the first run is the warm-up: caches and the model's buffers reach their size there).
Results go in docs/reliability.md (this is not a throughput benchmark: see `python -m bench.load`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from bench.common import CORPUS, SCRATCH, machine, percentiles, rss_bytes
from tests.support.server import HOST, ServerDidNotStart, free_port, start_server

ROOT = Path(__file__).resolve().parent.parent

CLIENT_TIMEOUT = 120  # seconds; a slow answer on a busy 2-core machine is not an error, a lost one is
QUERIES = ["what was said about short breaks", "Earned Autonomy funding", "budget savings",
           "children's services overspend", '"short breaks" -respite', "looked after children placements",
           "special educational needs transport", "youth service reductions", "council tax precept",
           "<script>alert(1)</script>", "NEAR(budget savings)", "'; DROP TABLE passages; --"]


def request_mix(document_ids: list[str]) -> list[tuple[str, set[int]]]:
    """(path, acceptable statuses); weighted by repetition."""
    mix: list[tuple[str, set[int]]] = []
    for q in QUERIES:
        e = quote(q)
        mix += [(f"/api/search?q={e}&k=10", {200})] * 4
        mix += [(f"/?q={e}", {200}), (f"/api/browse?q={e}&sort=newest", {200}),
                (f"/api/answer?q={e}", {200}), (f"/timeline?q={e}", {200}),
                (f"/api/export?q={e}&format=csv", {200, 404}), (f"/api/timeline?q={e}", {200})]
    for doc in document_ids:
        quoted = quote(doc, safe="")
        mix += [(f"/api/documents/{quoted}", {200}), (f"/documents/{quoted}?passage=1", {200})]
    mix += [("/healthz", {200})] * 3 + [("/static/style.css", {200}), ("/", {200})]
    mix += [("/api/search?q=", {422}), ("/api/search?q=budget&k=500", {422}), ("/api/documents/nope", {404}),
            ("/api/search?q=budget&date_from=2019-02-30", {422}), ("/documents/..%2F..%2Fetc%2Fpasswd", {404}),
            ("/api/search?q=%ff%fe", {200, 422}), ("/no/such/page", {404})]
    return mix


class Client(threading.Thread):
    def __init__(self, port: int, mix: list[tuple[str, set[int]]], stop: threading.Event, seed: int,
                 budget: list[int], lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.port, self.mix, self.stop = port, mix, stop
        self.random = random.Random(seed)
        self.budget, self.lock = budget, lock
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT)
        while not self.stop.is_set():
            with self.lock:
                if self.budget[0] <= 0:
                    return
                self.budget[0] -= 1
            path, expected = self.random.choice(self.mix)
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Connection": "keep-alive"})
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT)
                continue
            self.latencies.append(time.perf_counter() - started)
            self.statuses[response.status] += 1
            if response.status not in expected:
                self.errors.append(f"{path}: {response.status} {body[:200]!r}")
            elif response.status >= 400 and response.getheader("content-type", "").startswith("application/json"):
                data = json.loads(body)
                if set(data) != {"ok", "error", "status"}:
                    self.errors.append(f"{path}: error shape {data}")
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT)
        connection.close()


class Rebuilder(threading.Thread):
    """Rebuilds the index every `every` seconds (vectors come from the cache, so a build is quick)."""

    def __init__(self, index_dir: Path, model: str, every: float) -> None:
        super().__init__(daemon=True)
        from minutes.embed import load_embedder

        self.index_dir, self.every = index_dir, every
        self.embedder = load_embedder(model, threads=1)
        self.stop = threading.Event()
        self.count = 0
        self.errors: list[str] = []

    def run(self) -> None:
        from minutes.build import build_index

        while not self.stop.wait(self.every):
            try:
                build_index([CORPUS], self.index_dir, self.embedder)
                self.count += 1
            except Exception as exc:  # reported, and counted as errors
                self.errors.append(f"{type(exc).__name__}: {exc}")


def soak_run(port: int, pid: int, mix: list[tuple[str, set[int]]], clients: int, seconds: float,
             max_requests: int, seed: int) -> dict[str, object]:
    stop, lock = threading.Event(), threading.Lock()
    budget = [max_requests]
    threads = [Client(port, mix, stop, seed * 1000 + i, budget, lock) for i in range(clients)]
    rss_samples: list[int] = []
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    while time.perf_counter() - started < seconds and any(t.is_alive() for t in threads):
        time.sleep(1)
        rss_samples.append(rss_bytes(pid))
    stop.set()
    for thread in threads:
        thread.join(timeout=CLIENT_TIMEOUT + 10)
    elapsed = time.perf_counter() - started
    latencies = [x for t in threads for x in t.latencies]
    statuses: Counter[int] = Counter()
    for t in threads:
        statuses.update(t.statuses)
    errors = [e for t in threads for e in t.errors]
    time.sleep(2)  # let the server settle before reading its memory
    stats = percentiles(latencies) if latencies else {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0.0}
    return {"requests": len(latencies), "seconds": round(elapsed, 1), "rps": round(len(latencies) / elapsed, 1),
            "errors": len(errors), "error_examples": errors[:10],
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "p50_ms": round(stats["p50"] * 1000, 1), "p95_ms": round(stats["p95"] * 1000, 1),
            "p99_ms": round(stats["p99"] * 1000, 1), "max_ms": round(max(latencies, default=0.0) * 1000, 1),
            "rss_peak_mb": round(max(rss_samples or [0]) / 2**20, 1), "rss_after_mb": round(rss_bytes(pid) / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=200_000, help="per run, whatever the time")
    parser.add_argument("--model", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--rss-tolerance", type=float, default=0.05)
    parser.add_argument("--rebuild-every", type=float, default=0.0,
                        help="also rebuild the index every N seconds while the clients run (0: never); "
                             "the server swaps each build in under load")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    index_dir = SCRATCH / f"soak-index-{args.model}"
    log_path = SCRATCH / "soak-server.log"
    SCRATCH.mkdir(exist_ok=True)
    settings = {"MINUTES_MODEL": args.model, "MINUTES_CORPUS": json.dumps([str(CORPUS)])}
    env = os.environ | {"MINUTES_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"} | settings
    # Always (re)build: the vector cache makes it quick, and an index from an older chunker
    # would only answer 503.
    subprocess.run([sys.executable, "-m", "minutes", "index"], cwd=ROOT, env=env, check=True)
    port = free_port()
    try:
        server = start_server(index_dir, log_path, settings, port=port)
    except ServerDidNotStart as exc:
        print(exc)
        return 2
    rebuilds = None
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        connection.request("GET", "/api/search?q=budget&k=100")
        document_ids = sorted({h["document_id"] for h in json.loads(connection.getresponse().read())["hits"]})[:5]
        mix = request_mix(document_ids)
        rss_start = rss_bytes(server.process.pid)
        rebuilds = Rebuilder(index_dir, args.model, args.rebuild_every) if args.rebuild_every > 0 else None
        if rebuilds:
            rebuilds.start()
        runs = []
        for number in range(1, args.runs + 1):
            result = soak_run(port, server.process.pid, mix, args.clients, args.seconds, args.max_requests, number)
            runs.append(result)
            print(f"run {number}: {result['requests']} requests ({result['rps']}/s), {result['errors']} errors, "
                  f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms, "
                  f"RSS after {result['rss_after_mb']} MB "
                  f"(peak {result['rss_peak_mb']} MB)", flush=True)
            for example in result["error_examples"]:  # type: ignore[attr-defined]
                print("   ", example)
    finally:
        if rebuilds:
            rebuilds.stop.set()
            rebuilds.join(timeout=120)
        server.stop()

    if rebuilds:
        print(f"{rebuilds.count} rebuilds swapped in while the clients ran; build errors: {rebuilds.errors or 'none'}")
        errors_in_builds = len(rebuilds.errors)
    else:
        errors_in_builds = 0
    first, last = runs[0]["rss_after_mb"], runs[-1]["rss_after_mb"]
    growth = (float(last) - float(first)) / float(first)  # type: ignore[arg-type]
    errors = sum(int(r["errors"]) for r in runs) + errors_in_builds  # type: ignore[call-overload]
    passed = errors == 0 and growth <= args.rss_tolerance
    summary = {"machine": machine(), "command": " ".join(["python -m bench.soak", *sys.argv[1:]]), "model": args.model,
               "clients": args.clients, "seconds_per_run": args.seconds, "runs": runs,
               "rss_start_mb": round(rss_start / 2**20, 1), "rss_growth_after_warmup": round(growth, 4),
               "errors": errors, "passed": passed,
               "rebuilds_swapped_in": rebuilds.count if rebuilds else 0}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(f"\nRSS at start {summary['rss_start_mb']} MB; after run 1 {first} MB, after run {len(runs)} {last} MB "
          f"({growth:+.1%}); {errors} errors -> {'PASS' if passed else 'FAIL'}")
    print(f"| {summary['machine']} | `{summary['command']}` | {args.clients} clients x {args.seconds:.0f} s x "
          f"{len(runs)} runs | {sum(int(r['requests']) for r in runs)} requests, {errors} errors | "  # type: ignore[call-overload]
          f"RSS {first} → {last} MB ({growth:+.1%}) |")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
