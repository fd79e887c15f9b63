"""A real `minutes serve` (uvicorn) process on a free loopback port, for end-to-end tests."""

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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(index_dir: Path, log_dir: Path, env: dict[str, str] | None = None, *,
                build: bool = False, timeout: float = 120) -> Iterator[str]:
    """Start the server on `index_dir`; yield its base URL once /healthz answers; stop it after.

    `build` lets `serve` build the corpus first when the index is empty (the main job's path).
    The server's output goes to `log_dir/server.log`, quoted when it fails to start.
    """
    port = free_port()
    environment = os.environ | {"MINUTES_INDEX_DIR": str(index_dir), "MINUTES_PORT": str(port),
                                "HF_HUB_OFFLINE": "1"} | (env or {})
    log_path = log_dir / "minutes.web.log"
    command = [sys.executable, "-m", "minutes", "serve"] + ([] if build else ["--no-build"])
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("server did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)
