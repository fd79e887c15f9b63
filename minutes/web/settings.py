"""The web server's settings: the core ones (index, model...) plus what only a server needs.

`WebSettings` extends `minutes.settings.Settings`, so one object, fed by the same MINUTES_*
environment, configures `minutes serve`; the core never sees a host, a port or a rate limit.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from minutes.settings import Settings


class WebSettings(Settings):
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$",
                                   description="The site's public address, for links in exported citations "
                                               "(behind a proxy); default: the address of each request.")
    rate_limit: int = Field(0, ge=0, le=1_000_000,
                            description="Requests per client IP in any 60 seconds (a sliding window) before the "
                                        "server answers 429 (with Retry-After); 0 turns the limit off.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [], description="Addresses or networks of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto "
                        "are believed (a JSON list or comma-separated); default none: the client is the "
                        "connecting address.")
    max_url_bytes: int = Field(32_768, ge=256, le=1_048_576,
                               description="Longest request address (path and query string) in bytes; "
                                           "longer ones get 414. Room for an export of 100 chosen passages.")
    max_body_bytes: int = Field(1_048_576, ge=0, le=1 << 30,
                                description="Largest request body in bytes; larger ones get 413.")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            if proxy != "*":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise ValueError(f"'{proxy}' is not an IP address or network (like 127.0.0.1 or "
                                     f"10.0.0.0/8)") from None
        return proxies

    @classmethod
    def of(cls, settings: Settings | None = None, **changes: Any) -> WebSettings:
        """`settings` with the server's own settings added (from the environment where not given)."""
        if settings is None:
            return cls(**changes)
        if isinstance(settings, cls):
            return settings.model_copy(update=changes) if changes else settings
        return cls(**(settings.model_dump() | changes))
