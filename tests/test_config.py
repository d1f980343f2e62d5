"""Settings: one typed object from the environment / .env; `.env.example` documents every setting."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from swx.config import Settings

REPO = Path(__file__).resolve().parents[1]


def test_env_example_lists_exactly_the_settings():
    documented = set(dotenv_values(REPO / ".env.example"))
    fields = {f"SWX_{name.upper()}" for name in Settings.model_fields}
    assert documented == fields


def test_env_example_values_are_the_defaults():
    from_example = Settings(_env_file=REPO / ".env.example")
    defaults = Settings(_env_file=None)
    assert from_example.model_dump() == defaults.model_dump()


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("SWX_GIM_CENTRE", "IGS")
    monkeypatch.setenv("SWX_HTTP_RETRIES", "7")
    monkeypatch.setenv("SWX_GIM_MIRRORS", '{"igs": ["http://127.0.0.1/{name}"]}')
    monkeypatch.setenv("SWX_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert s.gim_centre == "igs" and s.http_retries == 7 and s.gim_mirrors == {"igs": ["http://127.0.0.1/{name}"]}
    assert s.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SWX_GIM_SOURCE=remote\nSWX_DATA_DIR=/srv/swx\n")
    monkeypatch.delenv("SWX_DATA_DIR")
    s = Settings()
    assert s.gim_source == "remote" and s.data_dir == Path("/srv/swx")
    assert s.resolved_database_url == "sqlite:////srv/swx/swx.sqlite"


def test_recorded_paths_are_relative_to_the_data_folder_and_old_rows_still_found(tmp_path, monkeypatch):
    """Issue 18: rows of earlier versions hold paths relative to their working directory."""
    from swx.config import data_path, recorded_path

    data = tmp_path / "var"
    (data / "models" / "E000N50").mkdir(parents=True)
    ckpt = data / "models" / "E000N50" / "v0001.pt"
    ckpt.write_bytes(b"x")
    assert recorded_path(ckpt, data) == "models/E000N50/v0001.pt"
    assert recorded_path(tmp_path / "elsewhere.nc", data) == str(tmp_path / "elsewhere.nc")  # outside: absolute
    assert data_path("models/E000N50/v0001.pt", data) == data / "models" / "E000N50" / "v0001.pt"
    monkeypatch.chdir(tmp_path)
    old_row = data_path("var/models/E000N50/v0001.pt", data)  # written from tmp_path by an earlier version
    assert old_row.resolve() == ckpt.resolve()
    assert data_path(str(ckpt), data) == ckpt


def test_a_lead_days_hours_are_said_from_one_rule():
    """The span every product title, summary and page gives a lead day, counted from the cutoff."""
    from swx.config import LEAD_DAYS, lead_hours, lead_span

    assert [lead_hours(d) for d in LEAD_DAYS] == [(2, 24), (26, 48)]
    assert [lead_span(d) for d in LEAD_DAYS] == ["2-24", "26-48"]
