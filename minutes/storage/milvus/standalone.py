"""A local Milvus standalone server on loopback (tests, benchmarks, trying the backend out).

The PyPI package `milvus` ("embedded Milvus", 2.3) ships the real standalone binary: one
process with its own etcd and local storage. Its own launcher kills the server one second
after asking it to stop, and leaves it running when the parent dies; this one waits for a
clean stop and sets PR_SET_PDEATHSIG so a killed test run cannot leave a server behind.

Every component advertises 127.0.0.1. Milvus 2.3 has no listen-address setting, so its
gRPC ports still bind every interface (checked with `ss -ltn`); docs/scale.md says so.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class StandaloneMilvus:
    """`with StandaloneMilvus(data_dir) as server: MilvusClient(server.uri)`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.health_port = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The `--backend` form."""
        return f"milvus://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "logs" / "milvus-stderr.log"

    def start(self, timeout: float = 180.0) -> StandaloneMilvus:
        try:
            import milvus  # the embedded-server package (extra `milvus`)
        except ImportError as exc:
            raise RuntimeError("the local Milvus server needs the `milvus` package: "
                               "pip install 'minutes[milvus]'") from exc
        # Every port a free one the kernel picks: the package's own choice scans up from the default
        # ports, so two servers starting at once (a test run beside a benchmark) would race for them.
        probe = milvus.MilvusServerConfig()
        ports = {key: free_port() for key in probe.configurable_items if key.endswith("_port")}
        config = milvus.MilvusServerConfig(data_dir=str(self.data_dir), **ports | {"proxy_port": self.port})
        for component in COMPONENTS:
            config.set(f"{component}.ip", "127.0.0.1")
        config.resolve()  # picks free ports for the other components, writes configs/milvus.yaml
        self._own_etcd_ports(Path(config.base_data_dir), int(config.get("etcd_port")))
        milvus._initialize_data_files(config.base_data_dir)  # unpacks the binary once
        self.health_port = free_port()
        binary = Path(config.base_data_dir) / "bin" / "milvus"
        env = os.environ | {"DEPLOY_MODE": "STANDALONE", "METRICS_PORT": str(self.health_port),
                            "MILVUS_RUN_DIR": str(self.data_dir / "run"),
                            "LD_LIBRARY_PATH": f"{binary.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
        logs = self.data_dir / "logs"
        with open(logs / "milvus-stdout.log", "ab") as out, open(self.log, "ab") as err:
            self.process = subprocess.Popen([str(binary), "run", "standalone"], cwd=config.base_data_dir, env=env,
                                            stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent)
        self._wait_healthy(timeout)
        return self

    def _own_etcd_ports(self, base: Path, client_port: int) -> None:
        """The embedded etcd's peer port is 2380 unless its own config says otherwise: give it a
        free one, so two local servers (a test run and a benchmark) can run side by side."""
        etcd_config = base / "configs" / "embedEtcd.yaml"
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{client_port}"
        etcd_config.write_text(f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
                               f"initial-cluster: default={peer}\nlisten-client-urls: {client}\n"
                               f"advertise-client-urls: {client}\n")
        milvus_yaml = base / "configs" / "milvus.yaml"
        text = milvus_yaml.read_text()
        milvus_yaml.write_text(text.replace("\netcd:\n", f"\netcd:\n  config:\n    path: {etcd_config}\n", 1))

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Milvus exited with status {self.process.returncode} while starting; "
                                   f"see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if b"OK" in response.read():
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Milvus did not become healthy in {timeout:.0f}s; see {self.log}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then wait for a clean exit; SIGKILL after `timeout` (2.3 can hang in its own
        shutdown, retrying calls to components it has already stopped: seen here, 2+ minutes)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> StandaloneMilvus:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
