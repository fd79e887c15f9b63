"""Re-measure issue 17's attacks after the fixes: peak memory and time of each, in a fresh process.

    .venv/bin/python -m bench.hostile [--json FILE]

Each case runs in its own Python process (so its peak RSS, VmHWM, is its own) against
files and a site made here on 127.0.0.1. The first row is a process doing nothing, for the
baseline. Results go to docs/reliability.md; tests assert the behaviour (refused, capped,
reported), never these figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the children import this checkout's code

CHILD = r"""
import json, re, sys, time
started = time.perf_counter()
outcome = "ok"
try:
    exec(sys.argv[1])
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"[:160]
peak = re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read())  # ru_maxrss survives exec
print(json.dumps({"seconds": round(time.perf_counter() - started, 2),
                  "peak_mb": round(int(peak.group(1)) / 1024, 1) if peak else None,
                  "outcome": outcome if outcome != "ok" else globals().get("RESULT", "ok")}))
"""

FETCH = """
from pathlib import Path
from minutes.sources.moderngov.client import Client, FetchError
try:
    Client(Path({cache!r}), delay=0, retries=0).get({url!r})
    RESULT = "fetched"
except FetchError as exc:
    RESULT = exc.reason
"""

LOAD = """
from pathlib import Path
from minutes.ingest import load_documents
items = list(load_documents([Path({path!r})]))
RESULT = "; ".join(sorted({{getattr(i, 'reason', 'document')[:90] for i in items if "not known" not in str(i)}}))
"""


def serve(routes: dict[str, tuple[bytes, dict[str, str]]]) -> str:
    class Handle(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/endless":
                self.send_response(200)
                self.end_headers()
                try:
                    while True:
                        self.wfile.write(b"0" * 65536)
                except OSError:
                    return
            body, headers = routes[self.path]
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with suppress(OSError):
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def run(code: str) -> dict[str, object]:
    # Extraction in-process here, so the process's own peak includes the reader's work (the
    # caps are the same; in `minutes index` that work happens in the capped child process).
    done = subprocess.run([sys.executable, "-c", CHILD, code], capture_output=True, text=True, timeout=900,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MINUTES_EXTRACT_IN_PROCESS": "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"outcome": done.stderr[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from tests.pdfmaker import make_pdf

    work = Path(tempfile.mkdtemp(prefix="minutes-hostile-"))
    bomb = gzip.compress(b" " * (1 << 30), 9)  # 1 GiB of spaces: about 1 MiB of gzip
    big = b"%PDF-1.4 " + b"0" * (300 << 20)
    url = serve({"/bomb": (bomb, {"Content-Encoding": "gzip"}), "/big.pdf": (big, {})})
    page = make_pdf([["Repeated page about the library budget and opening hours."]])
    kid = re.search(rb"/Kids \[(\d+ 0 R)\] /Count 1", page)
    assert kid
    (work / "pdf").mkdir()
    (work / "pdf" / "repeat.pdf").write_bytes(page.replace(
        kid.group(0), b"/Kids [" + b" ".join([kid.group(1)] * 200_000) + b"] /Count 200000"))
    import zipfile

    (work / "docx").mkdir()
    with zipfile.ZipFile(work / "docx" / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", b"<w:document><w:body>" + b" " * (1 << 30) + b"</w:body></w:document>")
    (work / "yaml").mkdir()
    laughs = "\n".join(["a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
                       + [f"{chr(98 + n)}: &{chr(98 + n)} [{','.join(['*' + chr(97 + n)] * 9)}]" for n in range(8)])
    (work / "yaml" / "bomb.md").write_text(f"---\n{laughs}\n---\nBody.\n")
    cases = [
        ("a process doing nothing (baseline)", "RESULT = 'ok'", ""),
        ("1 MiB gzip response inflating to 1 GiB", FETCH.format(cache=str(work / "c1"), url=f"{url}/bomb"),
         f"{len(bomb) / 2**20:.2f} MiB"),
        ("endless body", FETCH.format(cache=str(work / "c2"), url=f"{url}/endless"), "never ends"),
        ("300 MiB paper", FETCH.format(cache=str(work / "c3"), url=f"{url}/big.pdf"), "300 MiB"),
        ("PDF listing one page 200,000 times", LOAD.format(path=str(work / "pdf")),
         f"{(work / 'pdf' / 'repeat.pdf').stat().st_size / 2**20:.2f} MiB"),
        (".docx zip bomb (1 GiB document.xml)", LOAD.format(path=str(work / "docx")),
         f"{(work / 'docx' / 'bomb.docx').stat().st_size / 2**20:.2f} MiB"),
        ("YAML alias bomb in front matter", LOAD.format(path=str(work / "yaml")),
         f"{(work / 'yaml' / 'bomb.md').stat().st_size} bytes"),
    ]
    results = []
    print("| case | size | outcome | seconds | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for name, code, size in cases:
        result = run(code)
        results.append({"case": name, "size": size, **result})
        outcome = " ".join(str(result.get("outcome")).split())
        print(f"| {name} | {size} | {outcome} | {result.get('seconds')} | {result.get('peak_mb')} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
