"""Where providers' system keys are read from: the environment over the `.env` file the
settings were read from, as every setting is."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.settings import Settings


def test_the_env_file_in_the_working_directory_holds_provider_keys(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ACME_API_KEY=from-file\nPORT=9000\n")
    settings = Settings()
    assert settings.port == 9000
    assert settings.provider_key_environment().get("ACME_API_KEY") == "from-file"


def test_the_environment_wins_over_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("ACME_API_KEY=from-file\n")
    environ = Settings().provider_key_environment()
    monkeypatch.setenv("ACME_API_KEY", "from-environment")
    assert environ["ACME_API_KEY"] == "from-environment"


def test_settings_read_without_an_env_file_read_no_keys_from_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ACME_API_KEY=from-file\n")
    assert "ACME_API_KEY" not in Settings(_env_file=None).provider_key_environment()
    other = tmp_path / "other.env"
    other.write_text("ACME_API_KEY=from-other\n")
    environ = Settings(_env_file=other).provider_key_environment()
    assert environ["ACME_API_KEY"] == "from-other"
