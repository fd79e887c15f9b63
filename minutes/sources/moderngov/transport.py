"""The network end of the ModernGov client: one HTTP exchange, inside hard limits.

This transport sits under hishel's cache, so what the cache stores has already passed
every check here:

- a whole-request deadline: connect, TLS, the request, headers and body share one clock.
  httpx's timeouts are per socket operation, so a server that drips a byte a second never
  trips them; here each socket read and write waits at most for the time left (a network
  backend that bounds every operation by the deadline);
- a byte cap on the decoded body, read as it streams: the body is decompressed here
  (gzip and deflate only, with a bounded output per step) so a small gzip bomb stops at
  the cap instead of filling memory, and a corrupt stream is a clear error;
- redaction before storage: a `minutes.redact` request extension takes restricted items
  out of the body before the cache sees it; a body it cannot read is marked `no-store`, as is
  any response to a request with the `minutes.no_store` extension (papers the importer keeps);
- a polite delay between requests to the site, and counts of requests and 304s.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

_DEADLINE: ContextVar[float | None] = ContextVar("minutes_http_deadline", default=None)
_DROPPED_HEADERS = {b"content-encoding", b"content-length", b"transfer-encoding"}


class TooLarge(httpx.TransportError):
    """A response body over the byte cap (decoded size)."""


class Offline(httpx.TransportError):
    """A request that would need the network while the client is offline."""


class HostRefused(httpx.RequestError):
    """A request (or a redirect) to a host the import may not fetch from."""


@dataclass
class FetchStats:
    requests: int = 0
    not_modified: int = 0
    from_cache: int = 0
    retries: int = 0


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the whole-request deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every operation bounded by the request's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                         local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _decoder(encoding: str) -> Any:
    value = encoding.strip().lower()
    if value in ("", "identity"):
        return None
    if value in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # 32: a gzip or a zlib header, whichever it has
    raise httpx.DecodingError(f"unsupported content encoding '{encoding}'")


def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body of a streaming response; TooLarge past `max_bytes`, DecodingError if corrupt."""
    declared = response.headers.get("content-length", "")
    decoder = _decoder(response.headers.get("content-encoding", ""))
    if decoder is None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"response of {int(declared):,} bytes is over the {max_bytes:,}-byte cap")
    out = bytearray()
    received = 0

    def add(part: bytes) -> None:
        out.extend(part)
        if len(out) > max_bytes:
            raise TooLarge(f"response is over the {max_bytes:,}-byte cap (decoded)")

    try:
        for chunk in response.iter_raw():
            received += len(chunk)
            if decoder is None:
                add(chunk)
                continue
            data = chunk
            while data:  # never more than what is left under the cap out of one step
                add(decoder.decompress(data, max_bytes + 1 - len(out)))
                data = decoder.unconsumed_tail
        if decoder is not None:
            add(decoder.flush())
            if received and not decoder.eof:
                raise httpx.DecodingError("compressed body ends early (truncated)")
    except zlib.error as exc:
        raise httpx.DecodingError(f"corrupt compressed body ({exc})") from None
    return bytes(out)


class NetworkTransport(httpx.BaseTransport):
    def __init__(self, *, timeout: float, max_bytes: int, delay: float, offline: bool, stats: FetchStats) -> None:
        self.timeout, self.max_bytes, self.delay, self.offline, self.stats = timeout, max_bytes, delay, offline, stats
        self._last_request = 0.0
        self._http = httpx.HTTPTransport(retries=0)
        # httpx does not take a network backend; its pool is replaced by the same pool with one.
        self._http._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=4,
                                                   max_keepalive_connections=2, keepalive_expiry=5.0,
                                                   network_backend=_DeadlineBackend())

    def _wait_turn(self) -> None:
        pause = self._last_request + self.delay - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last_request = time.monotonic()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise Offline("not in the local cache (offline)", request=request)
        self._wait_turn()
        self.stats.requests += 1
        token = _DEADLINE.set(time.monotonic() + self.timeout)
        try:
            response = self._http.handle_request(request)
            try:
                body = read_capped(response, self.max_bytes)
            finally:
                response.close()
        finally:
            _DEADLINE.reset(token)
        self.stats.not_modified += response.status_code == 304
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROPPED_HEADERS]
        redact: Callable[[bytes], bytes] | None = request.extensions.get("minutes.redact")
        store = not request.extensions.get("minutes.no_store")
        if redact is not None and response.status_code == 200:
            try:
                body = redact(body)
            except Exception:  # unreadable (or nested too deep), so unredactable: used once, never stored
                store = False
        if not store:
            headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
            headers.append((b"cache-control", b"no-store"))
        return httpx.Response(response.status_code, headers=headers, content=body, request=request,
                              extensions={k: v for k, v in response.extensions.items() if k != "network_stream"})

    def close(self) -> None:
        self._http.close()
