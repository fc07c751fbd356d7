"""Settings: one typed object from DIR/gsomia.toml and GSOMIA_* variables; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from gsomia.config import ConfigError, Settings, load_settings, write_settings


def test_file_round_trip_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = Settings(party="JPN", name="MOD \"Tokyo\" 防衛省", node_id="JPN-1", data_dir=tmp_path)
    write_settings(written)
    assert load_settings(tmp_path) == written
    assert written.effective_database_url == f"sqlite:///{tmp_path / 'gsomia.db'}"
    assert written.effective_keys_dir == tmp_path / "keys"
    monkeypatch.setenv("GSOMIA_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("GSOMIA_TOKEN", "not a setting")  # other GSOMIA_* variables are not settings
    assert load_settings(tmp_path).effective_database_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize("content,message", [
    (None, "not found"), ("party = ", "not valid TOML"), ('party = "KOR"\n', "name"),
    ('party = "KOR"\nname = "n"\nnode_id = "x"\ncolour = "red"\n', "colour"),
    ('party = "KOR"\nname = "n"\nnode_id = "x"\nsqlite_synchronous = "OFF"\n', "sqlite_synchronous"),
])
def test_bad_configuration_is_explained(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "gsomia.toml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path)
