"""Long API fuzz: schemathesis against the app's own OpenAPI schema, every operation, valid and
invalid input, until at least `--cases` generated requests have been sent (default 5,000).

    .venv/bin/python -m bench.fuzz                      # in-process app, hashing embedder
    .venv/bin/python -m bench.fuzz --model minilm       # the real model
    .venv/bin/python -m bench.fuzz --cases 20000 --json .bench/fuzz.json

The checks are those of the fast suite (tests/test_fuzz.py): no 5xx; status code, content
type, headers and body of every response (errors included) as the schema declares; invalid
input refused with a 4xx. The index is the seed corpus plus a document full of markup, built
into `.bench/fuzz-index`. A failure stops the run and prints the request that caused it
(`curl` line) and Hypothesis's reproduction blob. Results go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from bench.common import SCRATCH, machine

ROOT = Path(__file__).resolve().parent.parent

ST_CONFIG = """[checks]
positive_data_acceptance.enabled = false
negative_data_rejection.expected-statuses = ["400", "404", "405", "413", "414", "422", "429"]
"""


def fuzz_real_server(index_dir: Path, model: str, examples: int) -> int:
    """`schemathesis run` (the CLI, with its coverage phase) against `minutes serve` on loopback."""
    import os
    import re
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = SCRATCH / "schemathesis.toml"
    config.write_text(ST_CONFIG)
    env = os.environ | {"MINUTES_INDEX_DIR": str(index_dir), "MINUTES_MODEL": model, "HF_HUB_OFFLINE": "1"}
    with open(SCRATCH / "fuzz-server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "minutes", "serve", "--no-build", "--host", "127.0.0.1",
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        run = subprocess.run([str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
                              f"{base}/openapi.json", "--phases", "examples,coverage,fuzzing", "--mode", "all",
                              "-n", str(examples), "--workers", "1", "--no-color"],
                             capture_output=True, text=True, timeout=3600, cwd=SCRATCH)  # its state: .bench/
    finally:
        server.terminate()
        server.wait(timeout=30)
    generated = re.search(r"(\d+) generated", run.stdout)
    if run.returncode != 0 or not generated:
        print(run.stdout[-6000:], run.stderr[-2000:])
        raise SystemExit(f"schemathesis run against the real server failed (exit {run.returncode})")
    return int(generated.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000, help="generated requests to send at least")
    parser.add_argument("--model", default="hashing", choices=["hashing", "minilm"])
    parser.add_argument("--pages", type=int, default=1000,
                        help="generated requests to the HTML pages too (not in the OpenAPI schema)")
    parser.add_argument("--server-examples", type=int, default=100,
                        help="also run the schemathesis CLI (examples, coverage and fuzzing phases) against a "
                             "real `minutes serve` on 127.0.0.1 with this many examples per operation; 0: skip")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    args = parser.parse_args()

    from schemathesis import GenerationMode

    from minutes.build import build_index
    from minutes.embed import load_embedder
    from tests.test_fuzz import app_schema, fuzz_operation, operations
    from tests.test_hostile import HOSTILE_DOC, PLAIN_DOC, fuzz_pages

    embedder = load_embedder(args.model, threads=1)
    corpus = SCRATCH / "fuzz-corpus"
    index_dir = SCRATCH / f"fuzz-index-{args.model}"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "hostile.md").write_text(HOSTILE_DOC)
    (corpus / "plain.md").write_text(PLAIN_DOC)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "nested.md").write_text("Budget savings in a nested folder, with no front matter.\n")
    build_index([corpus], index_dir, embedder)

    schema = app_schema(index_dir, embedder)
    ops = operations(schema)
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    per_run = max(1, math.ceil(args.cases / (len(ops) * len(modes))))
    statuses: dict[str, Counter[int]] = {}
    started = time.perf_counter()
    rounds = 0
    total = 0
    # Hypothesis stops early on operations with few distinct inputs (/healthz); further rounds
    # with fresh random seeds go on until the target is met.
    while total < args.cases and rounds < 20:
        rounds += 1
        for op in ops:
            for mode in modes:
                counter = statuses.setdefault(f"{op.method.upper()} {op.path} {mode.value}", Counter())
                fuzz_operation(op, mode, per_run, counter, derandomize=False)
        total = sum(sum(c.values()) for c in statuses.values())
        print(f"round {rounds}: {total} cases so far", flush=True)
    page_cases = 0
    if args.pages:
        from fastapi.testclient import TestClient

        from minutes.settings import Settings
        from minutes.web.app import create_app

        with TestClient(create_app(Settings(index_dir=index_dir, model=args.model), embedder=embedder)) as client:
            page_cases = fuzz_pages(client, args.pages, derandomize=False)
        print(f"pages: {page_cases} cases", flush=True)
    server_cases = 0
    if args.server_examples:
        server_cases = fuzz_real_server(index_dir, args.model, args.server_examples)
        print(f"real server: {server_cases} cases", flush=True)
    seconds = time.perf_counter() - started

    by_status: Counter[int] = Counter()
    for counter in statuses.values():
        by_status.update(counter)
    summary = {
        "machine": machine(), "command": " ".join(["python -m bench.fuzz", *sys.argv[1:]]), "model": args.model,
        "cases": total, "page_cases": page_cases, "server_cases": server_cases, "seconds": round(seconds, 1),
        "server_errors": sum(n for s, n in by_status.items() if s >= 500),
        "failures": 0, "statuses": {str(k): v for k, v in sorted(by_status.items())},
        "operations": {name: sum(c.values()) for name, c in statuses.items()},
    }
    print(json.dumps(summary, indent=2))
    print(f"\n| {summary['machine']} | `{summary['command']}` | {total} API cases, {len(ops)} operations; "
          f"{page_cases} page cases; {server_cases} cases against a real server | "
          f"0 failures, {summary['server_errors']} 5xx | {seconds:.0f} s |")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
