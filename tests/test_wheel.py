"""The wheel works on its own: built from this checkout, installed into a fresh venv outside it,
`minutes serve` started from another folder serves pages, their stylesheet and the API.

How the venv gets its dependencies, honestly and fast: the venv is new (`python -m venv
--without-pip`), the wheel goes in with `pip --python VENV install --no-deps`, and one `.pth`
file adds the test venv's site-packages *after* the venv's own. A path added by a `.pth` line has
its own `.pth` files ignored, so the test venv's editable install of this checkout (a `.pth`
finder) cannot leak in: `minutes` is imported from the wheel, which the test checks. Nothing is
downloaded (the wheel is built with `--no-build-isolation`, from the installed setuptools).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT
from .support.server import free_port

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stdout[-3000:]}"
                    f"\n{done.stderr[-3000:]}")
    return done.stdout


def _clean_environment(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (it would put this checkout on the path) and no outer venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return env | {"HF_HUB_OFFLINE": "1"} | extra


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of what a clean clone has, so no stale build/ folder can slip files in
    # and the checkout is not written to (setuptools leaves build/ and *.egg-info beside the source).
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "minutes", source / "minutes", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-q", "-w", out,
         cwd=out, env=_clean_environment())
    [built] = out.glob("minutes-*.whl")
    return built


def test_the_wheel_holds_the_templates_and_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.name for p in (ROOT / "minutes" / "web" / "templates").glob("*.html")}
    static = {p.name for p in (ROOT / "minutes" / "web" / "static").iterdir() if p.is_file()}
    assert templates and {f"minutes/web/templates/{name}" for name in templates} <= names
    assert {"style.css", "minutes.js"} <= static and {f"minutes/web/static/{name}" for name in static} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "corpus/"))]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    venv = home / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=home, env=_clean_environment())
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel, cwd=home,
         env=_clean_environment())
    site_packages = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                              cwd=home, env=_clean_environment()).strip())
    shared = sysconfig.get_paths()["purelib"]   # this test venv's: the dependencies, not this checkout
    (site_packages / "zz_shared_dependencies.pth").write_text(shared + "\n")
    return venv


def _environment(venv: Path, **extra: str) -> dict[str, str]:
    return _clean_environment(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def test_minutes_is_imported_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    where = _run(venv / "bin" / "python", "-c", "import minutes, minutes.web.app; print(minutes.__file__)",
                 cwd=tmp_path, env=_environment(venv)).strip()
    assert where.startswith(str(venv)) and not where.startswith(str(ROOT)), where


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Message, bytes]:
    """Status, headers (looked up case-insensitively) and body."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def served(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`minutes serve` from a folder of its own holding only a corpus: it builds the index first."""
    folder = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(CORPUS, folder / "corpus")
    port = free_port()
    env = _environment(venv, MINUTES_MODEL="hashing", MINUTES_PORT=str(port), MINUTES_RATE_LIMIT="6")
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(venv / "bin" / "minutes"), "serve"], cwd=folder, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if _get(base + "/healthz")[0] == 200:
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("server did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.3)
            assert (folder / "index" / "current").exists()   # built in the folder it was started from
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_the_installed_server_serves_a_page_its_stylesheet_and_the_api(served: str) -> None:
    status, headers, body = _get(served + "/?q=short+breaks")
    page = body.decode()
    assert status == 200 and headers.get("Content-Type", "").startswith("text/html") and 'class="hit"' in page
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert stylesheet
    status, headers, css = _get(served + stylesheet.group(1))
    assert status == 200 and headers.get("Content-Type", "").startswith("text/css")
    assert css == (ROOT / "minutes" / "web" / "static" / "style.css").read_bytes()
    status, headers, body = _get(served + "/api/search?q=short+breaks&k=3")
    hits = json.loads(body)["hits"]
    assert status == 200 and len(hits) == 3 and all("short breaks" in h["text"].lower() for h in hits[:1])
    status, headers, body = _get(served + "/healthz", method="HEAD")
    assert status == 200 and body == b"" and headers.get("Content-Type", "") == "application/json"


def test_a_client_on_the_same_host_cannot_pick_its_rate_limit_bucket(served: str) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; `minutes serve` does not."""
    statuses = [_get(served + "/api/search?q=budget", {"X-Forwarded-For": f"198.51.100.{n}"})[0]
                for n in range(8)]
    assert 429 in statuses, statuses
