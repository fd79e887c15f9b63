from pathlib import Path

import pytest

from minutes.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    field = Settings.model_fields[name]
    assert field.description, f"setting {name} has no help text"
    assert f"`{name}`" in README and f"`MINUTES_{name.upper()}" in README, f"README does not document {name}"


def test_environment_feeds_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINUTES_INDEX_DIR", str(tmp_path))
    monkeypatch.setenv("MINUTES_PORT", "8123")
    settings = Settings()
    assert settings.index_dir == tmp_path and settings.port == 8123
