"""A polite, bounded HTTP client for council sites, with a cache of raw responses.

- A User-Agent that names Minutes and says where it comes from.
- A rate limit: at most one request per `delay` seconds to a site (1 s by default).
- Limits on every response (transport.py): a whole-request deadline (`timeout`), a byte cap
  on the decoded body (`max_bytes`), at most `max_redirects` redirects, and fetches only
  from the hosts the importer allows (the site's own, and any document host the user
  names); a redirect elsewhere is refused, not followed.
- Retries with exponential backoff (tenacity) on time-outs, connection errors, 429 and
  5xx, honouring Retry-After; other failures fail at once.
- An RFC 9111 cache (hishel, one SQLite file under `cache_dir`): ETag and Last-Modified are
  sent back (If-None-Match, If-Modified-Since) and a 304 answers from the cache; published
  documents (`documents/...`, `mgConvert2PDF.aspx`) never change, so they are never fetched
  twice; `offline=True` answers from the cache only and needs no network at all.
  What the caller redacts (restricted agenda items) is taken out before the cache stores it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import hishel
import httpx
from hishel.httpx import CacheTransport
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from minutes.errors import InputError
from minutes.sources.moderngov.transport import FetchStats, HostRefused, NetworkTransport, Offline, TooLarge

__all__ = ["Client", "FetchError", "FetchStats", "Response", "host_key", "is_immutable"]

# hishel logs a failed cache write (a full disk) with its traceback and serves the response
# uncached; the import goes on, so the traceback is kept out of the user's terminal.
logging.getLogger("hishel").addHandler(logging.NullHandler())

USER_AGENT = "Minutes/0.1 (council papers search; +https://github.com/minutes-search/minutes)"
RETRY_STATUS = {429, 500, 502, 503, 504}
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 60.0


class FetchError(InputError, RuntimeError):
    """A URL that could not be fetched; the message names the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


class _Attempt(Exception):
    """One failed attempt; `transient` ones are retried."""

    def __init__(self, reason: str, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.transient, self.retry_after = reason, transient, retry_after


@dataclass
class Response:
    url: str
    body: bytes
    content_type: str
    from_cache: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def is_immutable(url: str) -> bool:
    """Published documents keep their URL for one version; refetching them is waste."""
    lowered = url.lower()
    return "/documents/" in lowered or "mgconvert2pdf.aspx" in lowered


def host_key(url: str | httpx.URL) -> str:
    """`host` or `host:port` of a URL or a bare host; default ports (80, 443) count as none."""
    text = str(url).strip()
    parsed = httpx.URL(text if "://" in text else f"http://{text}")
    port = parsed.port
    if port in (None, 80, 443):
        return parsed.host.lower()
    return f"{parsed.host.lower()}:{port}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class Client:
    def __init__(self, cache_dir: Path, *, delay: float = 1.0, retries: int = 3, backoff: float = 1.0,
                 timeout: float = 60.0, offline: bool = False, user_agent: str = USER_AGENT,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_redirects: int = MAX_REDIRECTS,
                 hosts: Iterable[str] | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.retries, self.backoff, self.offline, self.timeout = retries, backoff, offline, timeout
        self.max_redirects = max_redirects
        self.hosts: set[str] | None = None
        if hosts is not None:
            self.allow_only(hosts)
        self.stats = FetchStats()
        self.sleep: Callable[[float], None] = time.sleep  # between attempts (a test may listen)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.storage = hishel.SqliteStorage(database_path=self.cache_dir / "responses.sqlite",
                                            max_stream_size=max_bytes)
        network = NetworkTransport(timeout=timeout, max_bytes=max_bytes, delay=delay, offline=offline,
                                   stats=self.stats)
        cache = CacheTransport(network, storage=self.storage, rfc=hishel.CacheOptions(shared=False))
        self._http = httpx.Client(transport=cache, follow_redirects=True, max_redirects=max_redirects,
                                  headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
                                  event_hooks={"request": [self._before_send]})

    def allow_only(self, hosts: Iterable[str]) -> None:
        """Fetch only from these hosts (`host` or `host:port`); redirects elsewhere are refused."""
        self.hosts = {host_key(h) for h in hosts}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _before_send(self, request: httpx.Request) -> None:
        """Runs for the first request and for every redirect: the host check, the cache mode."""
        if self.hosts is not None and host_key(request.url) not in self.hosts:
            raise HostRefused(f"{host_key(request.url)} is not the site's host (allowed: "
                              f"{', '.join(sorted(self.hosts))}); not fetched", request=request)
        caching: dict[str, Any] = {"key": hashlib.sha256(str(request.url).encode()).hexdigest()}
        if self.offline or (is_immutable(str(request.url)) and not request.extensions.get("minutes.no_store")):
            caching["rfc"] = False  # whatever is stored answers, with no revalidation
        request.extensions["caching"] = caching

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Attempt) and error.retry_after is not None:
            return error.retry_after
        return float(wait_exponential(multiplier=self.backoff, min=0, max=MAX_RETRY_AFTER)(state))

    def _count_retry(self, _state: RetryCallState) -> None:
        self.stats.retries += 1

    def get(self, url: str, redact: Callable[[bytes], bytes] | None = None, *, store: bool = True) -> Response:
        """The body of `url`, from the cache where it is fresh; raises FetchError.

        `redact` takes out what must never be stored (restricted items) before the body is
        cached and returned; if it fails (a body it cannot read), nothing is cached.
        `store=False`: the caller keeps the body itself (papers), so the cache does not.
        """
        retrying = Retrying(stop=stop_after_attempt(self.retries + 1), wait=self._wait, reraise=True,
                            retry=retry_if_exception(lambda e: isinstance(e, _Attempt) and e.transient),
                            before_sleep=self._count_retry, sleep=self.sleep)
        try:
            return retrying(self._get_once, url, redact, store)
        except _Attempt as failure:
            suffix = f" after {self.retries + 1} attempts" if failure.transient else ""
            raise FetchError(url, failure.reason + suffix) from None

    def _get_once(self, url: str, redact: Callable[[bytes], bytes] | None, store: bool) -> Response:
        extensions: dict[str, Any] = {"minutes.redact": redact} if redact else {}
        if not store:
            extensions["minutes.no_store"] = True
        try:
            response = self._http.get(url, extensions=extensions)
        except httpx.TimeoutException:
            raise _Attempt(f"timed out after {self.timeout:g}s", transient=True) from None
        except (HostRefused, Offline, TooLarge) as exc:
            raise _Attempt(str(exc)) from None
        except httpx.TooManyRedirects:
            raise _Attempt(f"more than {self.max_redirects} redirects (a redirect loop?)") from None
        except httpx.DecodingError as exc:
            raise _Attempt(f"the body could not be decoded ({exc})") from None
        except httpx.UnsupportedProtocol as exc:
            raise _Attempt(f"not an http(s) URL ({exc})") from None
        except httpx.TransportError as exc:
            raise _Attempt(f"connection failed ({exc})", transient=True) from None
        except (httpx.InvalidURL, httpx.RequestError, ValueError) as exc:
            raise _Attempt(f"not a valid URL ({exc})") from None
        status = response.extensions.get("caching") or {}
        from_cache = bool(status.get("from_cache"))
        self.stats.from_cache += from_cache and not status.get("revalidated")
        if response.status_code != 200:
            code = response.status_code
            raise _Attempt(f"HTTP {code}", transient=code in RETRY_STATUS, retry_after=_retry_after(response))
        return Response(url, response.content, response.headers.get("content-type", ""), from_cache)
