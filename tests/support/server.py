"""A real `minutes serve` (uvicorn) process on a free loopback port, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


class ServerDidNotStart(RuntimeError):
    """The server exited or never answered /healthz; the message quotes the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    startup_seconds: float      # from launch until /healthz first answered 200

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(index_dir: Path, log_path: Path, env: dict[str, str] | None = None, *, build: bool = False,
                 access_log: bool = True, port: int | None = None, timeout: float = 120.0) -> Server:
    """Start `minutes serve` on `index_dir` (this checkout's code) and wait until /healthz answers 200.

    `build` lets `serve` build the corpus first when the index is empty (the main job's path).
    Output goes to `log_path`; with `access_log=False` the per-request lines (stdout) are dropped,
    as a load benchmark wants.
    """
    port = port or free_port()
    environment = os.environ | {"MINUTES_INDEX_DIR": str(index_dir), "MINUTES_PORT": str(port),
                                "MINUTES_HOST": HOST, "HF_HUB_OFFLINE": "1",
                                "PYTHONPATH": str(ROOT)} | (env or {})
    command = [sys.executable, "-m", "minutes", "serve"] + ([] if build else ["--no-build"])
    url = f"http://{HOST}:{port}"
    started = time.perf_counter()
    with open(log_path, "w") as log:  # the child keeps its own copy of the file descriptor
        process = subprocess.Popen(command, cwd=ROOT, env=environment,
                                   stdout=log if access_log else subprocess.DEVNULL, stderr=log)
    while process.poll() is None and time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return Server(process, url, time.perf_counter() - started)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    raise ServerDidNotStart(f"server did not start within {timeout}s (exit {process.returncode}):\n"
                            + log_path.read_text(errors="replace")[-3000:])


@contextmanager
def live_server(index_dir: Path, log_dir: Path, env: dict[str, str] | None = None, *,
                build: bool = False, timeout: float = 120) -> Iterator[str]:
    """The server on `index_dir` for the length of a `with` block; yields its base URL.

    Its output goes to `log_dir/minutes.web.log`, quoted when it fails to start.
    """
    server = start_server(index_dir, log_dir / "minutes.web.log", env, build=build, timeout=timeout)
    try:
        yield server.url
    finally:
        server.stop()
