from pathlib import Path

import pytest

from minutes.settings import Settings
from minutes.web.settings import WebSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(WebSettings.model_fields))   # the core's and the server's
def test_every_setting_is_documented(name: str) -> None:
    field = WebSettings.model_fields[name]
    assert field.description, f"setting {name} has no help text"
    assert f"`{name}`" in README and f"`MINUTES_{name.upper()}" in README, f"README does not document {name}"


def test_environment_feeds_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINUTES_INDEX_DIR", str(tmp_path))
    monkeypatch.setenv("MINUTES_PORT", "8123")
    settings = WebSettings()
    assert settings.index_dir == tmp_path and settings.port == 8123
    assert Settings().index_dir == tmp_path


def test_the_core_settings_know_no_server() -> None:
    server_only = {"host", "port", "public_url", "rate_limit", "trusted_proxies", "max_url_bytes", "max_body_bytes"}
    assert not server_only & set(Settings.model_fields) and server_only <= set(WebSettings.model_fields)


@pytest.mark.parametrize(("value", "proxies"), [
    ('["127.0.0.1", "10.0.0.0/8"]', ["127.0.0.1", "10.0.0.0/8"]),
    ("127.0.0.1, ::1", ["127.0.0.1", "::1"]),
    ("", []),
])
def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str,
                                              proxies: list[str]) -> None:
    monkeypatch.setenv("MINUTES_TRUSTED_PROXIES", value)
    assert WebSettings().trusted_proxies == proxies


def test_a_trusted_proxy_must_be_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("MINUTES_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ValidationError, match="'proxy.example' is not an IP address or network"):
        WebSettings()
