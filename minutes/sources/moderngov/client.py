"""A polite HTTP client for council sites, with a cache of raw responses.

- A User-Agent that names Minutes and says where it comes from.
- A rate limit: at most one request per `delay` seconds to a site (1 s by default).
- Retries with exponential backoff on time-outs, connection errors, 429 and 5xx,
  honouring Retry-After; other 4xx fail at once.
- Conditional requests: the ETag and Last-Modified of every cached response are sent back
  (If-None-Match, If-Modified-Since), and a 304 answers from the cache.
- Every response body is kept under `cache_dir` (one file per URL, plus its headers),
  less what the caller redacts (restricted agenda items are never written anywhere), so
  an import can be re-run with `offline=True` and needs no network at all; documents
  (`documents/...`, `mgConvert2PDF.aspx`) do not change once published and are never
  fetched twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from minutes.errors import InputError

USER_AGENT = "Minutes/0.1 (council papers search; +https://github.com/minutes-search/minutes)"
RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchError(InputError, RuntimeError):
    """A URL that could not be fetched; the message names the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


@dataclass
class Response:
    url: str
    body: bytes
    content_type: str
    from_cache: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class FetchStats:
    requests: int = 0
    not_modified: int = 0
    from_cache: int = 0
    retries: int = 0


def is_immutable(url: str) -> bool:
    """Published documents keep their URL for one version; refetching them is waste."""
    lowered = url.lower()
    return "/documents/" in lowered or "mgconvert2pdf.aspx" in lowered


class Client:
    def __init__(self, cache_dir: Path, *, delay: float = 1.0, retries: int = 3, backoff: float = 1.0,
                 timeout: float = 30.0, offline: bool = False, user_agent: str = USER_AGENT) -> None:
        self.cache_dir = Path(cache_dir)
        self.delay, self.retries, self.backoff, self.offline = delay, retries, backoff, offline
        self.stats = FetchStats()
        self._last_request = 0.0
        self._http = httpx.Client(headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
                                  timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        folder = self.cache_dir / key[:2]
        return folder / f"{key}.body", folder / f"{key}.json"

    def cached(self, url: str) -> tuple[bytes, dict[str, str]] | None:
        body_path, meta_path = self._paths(url)
        try:
            return body_path.read_bytes(), json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None

    def _store(self, url: str, body: bytes, headers: httpx.Headers) -> None:
        body_path, meta_path = self._paths(url)
        body_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"url": url, "etag": headers.get("etag"), "last_modified": headers.get("last-modified"),
                "content_type": headers.get("content-type", ""),
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds")}
        for path, data in ((body_path, body), (meta_path, json.dumps(meta).encode())):
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # a killed import never leaves half a response in the cache

    def _wait_turn(self) -> None:
        pause = self._last_request + self.delay - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last_request = time.monotonic()

    def get(self, url: str, redact: Callable[[bytes], bytes] | None = None) -> Response:
        """The body of `url`, from the cache where it is fresh; raises FetchError.

        `redact` takes out what must never be stored (restricted items) before the body is
        cached and returned; if it fails (a body it cannot read), nothing is cached.
        """
        cached = self.cached(url)
        if cached is not None and (self.offline or is_immutable(url)):
            self.stats.from_cache += 1
            return Response(url, cached[0], cached[1].get("content_type", ""), True)
        if self.offline:
            raise FetchError(url, "not in the local cache (offline)")
        headers = {}
        if cached is not None:
            if cached[1].get("etag"):
                headers["If-None-Match"] = cached[1]["etag"]
            if cached[1].get("last_modified"):
                headers["If-Modified-Since"] = cached[1]["last_modified"]
        reason = "no response"
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            self._wait_turn()
            self.stats.requests += 1
            try:
                response = self._http.get(url, headers=headers)
            except httpx.TimeoutException:
                reason = f"timed out after {self._http.timeout.read}s"
            except httpx.TransportError as exc:
                reason = f"connection failed ({exc})"
            else:
                if response.status_code == 304 and cached is not None:
                    self.stats.not_modified += 1
                    return Response(url, cached[0], cached[1].get("content_type", ""), True)
                if response.status_code == 200:
                    body = response.content
                    try:
                        body = redact(body) if redact else body
                    except ValueError:  # unreadable, so unredactable: use it once, keep nothing
                        return Response(url, body, response.headers.get("content-type", ""), False)
                    self._store(url, body, response.headers)
                    return Response(url, body, response.headers.get("content-type", ""), False)
                reason = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUS:
                    break
                if attempt < self.retries:
                    time.sleep(self._retry_after(response) or self.backoff * 2 ** attempt)
                    continue
                break
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** attempt)
        attempts = f" after {self.retries + 1} attempts" if reason.startswith(("HTTP 5", "HTTP 429", "timed", "conn")) \
            else ""
        raise FetchError(url, reason + attempts)

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if not value:
            return None
        try:
            return min(float(value), 60.0)
        except ValueError:
            try:
                return min(max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0), 60.0)
            except (TypeError, ValueError):
                return None
