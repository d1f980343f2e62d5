"""Archive and ingest: atomic, checksummed, idempotent; every failure is reported with its reason and
leaves nothing half-written."""

from __future__ import annotations

import datetime as dt
import gzip
import os

import numpy as np
import pandas as pd
import pytest

from swx.archive import Archive, load_indices
from swx.io.http import Downloader, RetryPolicy
from swx.io.ionex import read_ionex
from swx.pipeline.days import daterange
from swx.pipeline.ingest import ingest_gims, ingest_indices
from swx.sources.gim import LocalDirectorySource, RemoteSource
from swx.sources.indices.history import load_history
from tests.helpers import gim_bytes_gz, gim_text, make_gim, no_sleep

D1, D2, D3 = dt.date(2020, 1, 8), dt.date(2020, 1, 9), dt.date(2020, 1, 10)


def files_under(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_archive_round_trip_and_checksum(tmp_path):
    a = Archive(tmp_path)
    ds = make_gim(D1)
    stored = a.store_gim(ds, "cod", D1, source_kind="local", source_origin="/x/codg0080.20i")
    assert stored.path == tmp_path / "gim/cod/2020/cod_20200108.nc"
    assert a.has_gim("cod", D1) and a.recorded_sha256(stored.path) == stored.sha256
    back = a.open_gim("cod", D1)
    np.testing.assert_array_equal(back.tec.values, ds.tec.values)
    assert back.attrs["source_kind"] == "local" and back.attrs["swx_day"] == "2020-01-08"
    assert back.tec.encoding["zlib"] is True
    # tampering is detected, also after a check whose answer is kept (a byte changed in place, same size)
    data = bytearray(stored.path.read_bytes())
    data[-5] ^= 0xFF
    before = stored.path.stat().st_mtime_ns
    stored.path.write_bytes(bytes(data))
    os.utime(stored.path, ns=(before + 10**9, before + 10**9))  # a write a second later (coarse clocks too)
    assert not a.has_gim("cod", D1)
    stored.path.write_bytes(stored.path.read_bytes()[:-10])
    assert not a.has_gim("cod", D1)
    assert a.gim_days("cod") == [D1] and a.centres() == ["cod"]


def test_local_ingest_real_files_is_idempotent(ionex_dir, tmp_path):
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(ionex_dir)
    s1 = ingest_gims(src, a, src.available())
    c = s1.counts()
    assert c["fetched"] == 16 and c["failed"] == 1
    [bad] = s1.failed
    assert bad.centre == "uqr" and "no END OF HEADER" in bad.reason and "line 50" in bad.reason
    assert not a.gim_path("uqr", bad.day).exists()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "archive").rglob("*.nc")}
    s2 = ingest_gims(src, a, src.available())
    assert s2.counts()["skipped"] == 16 and s2.counts()["fetched"] == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "archive").rglob("*.nc")} == before
    assert not any(p.name.endswith(".part") for p in (tmp_path / "archive").rglob("*"))
    cod = a.open_gim("cod", D1)
    ref = read_ionex(ionex_dir / "codg0080.20i.Z")
    np.testing.assert_array_equal(cod.tec.values, ref.tec.values)
    assert cod.attrs["source_sha256"] == ref.attrs["source_sha256"]


def test_a_file_holding_another_day_is_refused(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "codg0090.20i").write_text(gim_text(D1))  # named 9 January, holds 8 January
    a = Archive(tmp_path / "archive")
    s = ingest_gims(LocalDirectorySource(folder), a, [("cod", D2)])
    assert s.counts()["failed"] == 1 and "do not belong to 2020-01-09" in s.failed[0].reason
    assert files_under(tmp_path / "archive") == [] if (tmp_path / "archive").exists() else True


def test_remote_ingest_through_misbehaving_server(http_server, tmp_path):
    """One good day, one 404, one login redirect, one corrupt gzip, one truncated IONEX."""
    good = gim_bytes_gz(D1)
    days = daterange(D1, D1 + dt.timedelta(days=4))
    names = {d: f"/gim/{d:%Y}/{d.timetuple().tm_yday:03d}.gz" for d in days}
    http_server.add(names[days[0]], body=good)
    # days[1]: nothing served -> 404
    login = http_server.add("/login", body=b"<html>please log in</html>", headers={"Content-Type": "text/html"})
    http_server.add(names[days[2]], redirect=login)
    http_server.add(names[days[3]], body=b"\x1f\x8b\x08\x00" + b"\x00" * 50)
    truncated = gim_text(days[4])
    http_server.add(names[days[4]], body=gzip.compress(truncated[: len(truncated) // 2].encode()))
    mirrors = {"cod": [http_server.base + "/gim/{yyyy}/{doy}.gz"]}
    dl = Downloader(RetryPolicy(timeout_s=2, retries=1, backoff_s=0), sleep=no_sleep())
    a = Archive(tmp_path / "archive")
    s = ingest_gims(RemoteSource(mirrors, dl), a, [("cod", d) for d in days])
    by_day = {r.day: r for r in s.results}
    assert by_day[days[0]].status == "fetched" and by_day[days[0]].maps == 13
    assert by_day[days[1]].status == "missing" and "404" in by_day[days[1]].reason
    assert by_day[days[2]].status == "failed" and "login" in by_day[days[2]].reason
    assert by_day[days[3]].status == "failed" and "gzip" in by_day[days[3]].reason
    assert by_day[days[4]].status == "failed" and "missing END OF TEC MAP" in by_day[days[4]].reason
    for d in days[1:]:
        assert f"cod {d}:" in str(s)  # every failed day is named in the summary, with its reason
        assert not a.gim_path("cod", d).exists()
    assert files_under(tmp_path / "archive") == ["gim/cod/2020/cod_20200108.nc", "gim/cod/2020/cod_20200108.nc.sha256"]
    # the rerun fetches only what is missing: the good day is skipped without a request
    hits = http_server.routes[names[days[0]]].hits
    s2 = ingest_gims(RemoteSource(mirrors, dl), a, [("cod", d) for d in days])
    assert s2.counts()["skipped"] == 1 and http_server.routes[names[days[0]]].hits == hits
    dl.close()


def test_mirror_fallback(http_server, tmp_path):
    http_server.add("/second/codg0080.20i.Z", body=gim_bytes_gz(D1))
    mirrors = {"cod": [http_server.base + "/first/{name}", http_server.base + "/second/{name}"]}
    dl = Downloader(RetryPolicy(timeout_s=2, retries=0), sleep=no_sleep())
    s = ingest_gims(RemoteSource(mirrors, dl), Archive(tmp_path), [("cod", D1)])
    assert s.results[0].status == "fetched" and s.results[0].origin.endswith("/second/codg0080.20i.Z")
    dl.close()


def test_indices_merge_into_archive_idempotently(tmp_path):
    a = Archive(tmp_path)
    h = load_history().between("2015-03-01", "2015-04-01")
    first = ingest_indices(h, a, "bundled")
    assert first.changed == len(h.kp) == 31 * 8
    again = ingest_indices(h, a, "bundled")
    assert again.changed == 0
    back = a.load_indices()
    assert back.kp.index.tz is not None
    assert back.kp.loc[pd.Timestamp("2015-03-17 12:00", tz="UTC"), "kp"] == pytest.approx(7.667)
    assert a.verify(a.kp_path) and a.verify(a.daily_path)


@pytest.mark.parametrize("damage", ["zeroed", "no-checksum"])
def test_an_archived_kp_file_gone_bad_is_named_in_one_line(tmp_path, damage):
    """An eleventh round: 4000 bytes of the archived Kp file zeroed ended every forecast in HDF5's
    traceback. It is refused naming the file (checked against its checksum; read errors named too)."""
    from swx.errors import IndexFormatError

    a = Archive(tmp_path)
    ingest_indices(load_history().between("2015-03-01", "2015-04-01"), a, "bundled")
    raw = bytearray(a.kp_path.read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 4000] = bytes(4000)
    a.kp_path.write_bytes(bytes(raw))
    if damage == "no-checksum":  # not read as HDF5 at all (HDF5 may loop on a damaged file: the record first)
        a.kp_path.write_bytes(b"not netCDF" * 100)
        a.kp_path.with_name(a.kp_path.name + ".sha256").unlink()
    with pytest.raises(IndexFormatError) as err:
        load_indices(a)
    text = str(err.value)
    assert str(a.kp_path) in text and "swx ingest kp" in text and "\n" not in text, text


def test_the_fast_tec_reader_gives_what_xarray_decodes(tmp_path):
    """`open_gim_tec` (netCDF4 directly, for the stages that read many days) against `open_gim`,
    missing values included."""
    a = Archive(tmp_path)
    ds = make_gim(dt.date(2015, 3, 17))
    tec = ds["tec"].values.copy()
    tec[3, 10, 20] = np.nan
    ds["tec"] = (ds["tec"].dims, tec)
    a.store_gim(ds, "sim", dt.date(2015, 3, 17), source_kind="test", source_origin="test")
    fast, full = a.open_gim_tec("sim", dt.date(2015, 3, 17)), a.open_gim("sim", dt.date(2015, 3, 17))
    for name in ("time", "lat", "lon"):
        np.testing.assert_array_equal(fast[name].values, full[name].values)
    np.testing.assert_array_equal(fast["tec"].values, full["tec"].values)  # NaN where NaN
    assert np.isnan(fast["tec"].values[3, 10, 20]) and list(fast.data_vars) == ["tec"]


def test_ingest_summary_is_one_line_with_counts_and_the_days_that_did_not_arrive():
    from swx.pipeline.ingest import DayResult, IngestSummary

    status = {d: "fetched" for d in range(1, 29)} | {5: "skipped", 10: "missing", 11: "missing"}
    summary = IngestSummary([DayResult("cod", dt.date(2015, 3, d), s, "not on the server" if s == "missing" else "")
                             for d, s in sorted(status.items(), reverse=True)])
    line = summary.one_line("cod", shown=1)
    assert "\n" not in line
    assert line.startswith("GIMs cod 2015-03-01 .. 2015-03-28: 25 fetched, 2 missing, 1 skipped")
    assert "2015-03-10 missing (not on the server); and 1 more" in line
    assert "2015-03-11" not in line
    assert IngestSummary().one_line("cod") == "GIMs cod: no day asked"


class _FaultyOnSomeDays:
    """A source whose fetch fails on given days with errors no parser expects (issue 18)."""

    kind = "local"

    def __init__(self, faults: dict) -> None:
        self.faults = faults

    def fetch(self, centre, day):
        from swx.sources.gim import RawGim

        if day in self.faults:
            raise self.faults[day]
        return RawGim(centre, day, f"codg{day:%j}0.{day:%y}i", gim_text(day).encode(), f"/in/{day}", "local")


def test_a_fault_on_one_day_does_not_stop_the_others_and_each_day_is_recorded_at_once(database, monkeypatch):
    """Issue 18: only IonexFormatError was caught, so a full disk or an unreadable file stopped the loop,
    and the days' database rows were written only after it."""
    import errno

    from sqlalchemy import select

    from swx.config import get_settings
    from swx.pipeline import ingest as stage
    from swx.store import orm as m
    from swx.store.db import engine_from_settings

    d4 = D3 + dt.timedelta(days=1)
    faults = {D2: OSError(errno.ENOSPC, "No space left on device"), D3: MemoryError("parsing")}
    monkeypatch.setattr(stage, "gim_source", lambda *a, **k: _FaultyOnSomeDays(faults))
    recorded_at: list[tuple[dt.date, set]] = []
    engine = engine_from_settings(get_settings())

    def seen(result):  # what the database holds when each day is reported
        with engine.connect() as conn:
            recorded_at.append((result.day, set(conn.execute(select(m.InputFile.day)).scalars())))

    summary = stage.ingest_gims_stage(get_settings(), [D1, D2, D3, d4], centre="cod", kind="local", on_result=seen)
    assert [r.status for r in summary.results] == ["fetched", "failed", "failed", "fetched"]
    assert "OSError" in summary.results[1].reason and "No space left" in summary.results[1].reason
    assert "MemoryError" in summary.results[2].reason and "Nothing was archived" in summary.results[2].reason
    assert recorded_at[0] == (D1, {D1}) and recorded_at[-1] == (d4, {D1, d4})
    assert Archive(get_settings().archive_dir).gim_days("cod") == [D1, d4]


def _product_file(folder, product: str, day: dt.date, seed: int, *, truncated: bool = False):
    """A day's maps of `product`, written by swx's writer under the IGS short name (gzip)."""
    from swx.io.gim_names import short_name

    text = gim_text(day, seed=seed)
    if truncated:
        text = text[: len(text) // 2]
    path = folder / (short_name(product, day, compressed=False) + ".gz")
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


def test_the_best_product_of_each_day_is_kept_and_a_final_replaces_the_rapid_map(tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    archive = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    chains = {"cod": ["cod", "cor"]}
    for day in (D1, D2, D3):
        _product_file(folder, "cor", day, seed=1)
    _product_file(folder, "cod", D1, seed=2)
    _product_file(folder, "cod", D3, seed=2, truncated=True)  # a broken final

    first = ingest_gims(src, archive, [("cod", d) for d in (D1, D2, D3)], chains=chains)
    got = {r.day: r for r in first.results}
    assert (got[D1].status, got[D1].product, got[D1].level) == ("fetched", "cod", "final")
    assert (got[D2].status, got[D2].product, got[D2].level) == ("fetched", "cor", "rapid")
    assert got[D2].reason.startswith("cod: no cod file for this day")
    assert (got[D3].status, got[D3].product) == ("fetched", "cor") and "cod: refused" in got[D3].reason
    assert str(archive.gim_product("cod", D2)) == "rapid cor"
    assert any(line.startswith("  RAPID   cod 2020-01-09: the rapid cor map") for line in first.lines())
    assert archive.gim_days("cor") == []  # the rapid maps are the cod days', under cod

    _product_file(folder, "cod", D2, seed=3)  # D2's final is out
    second = ingest_gims(src, archive, [("cod", d) for d in (D1, D2, D3)], chains=chains)
    got = {r.day: r for r in second.results}
    assert got[D1].status == "skipped"
    assert (got[D2].status, got[D2].product, got[D2].level) == ("upgraded", "cod", "final")
    assert got[D2].reason == "replaces the rapid cor" and [r.day for r in second.upgraded] == [D2]
    np.testing.assert_array_equal(archive.open_gim("cod", D2).tec.values, make_gim(D2, seed=3).tec.values)
    # a broken final never replaces the rapid map it would upgrade: the day keeps it, and says why
    assert got[D3].status == "skipped" and got[D3].reason.startswith("refused: ")
    assert got[D3].reason.endswith("The archived rapid cor map is kept")
    assert str(archive.gim_product("cod", D3)) == "rapid cor"
    assert any(line.startswith("  RAPID   cod 2020-01-10: the rapid cor map (refused: ") for line in second.lines())
    assert "1 upgraded to a better product" in second.lines()[0]

    third = ingest_gims(src, archive, [("cod", d) for d in (D1, D2)], chains=chains)
    assert [r.status for r in third.results] == ["skipped", "skipped"]  # finals: nothing is fetched again
    # forced again, a day never falls back below what it holds (D1's final is gone from the folder)
    (folder / "codg0080.20i.gz").unlink()
    forced = ingest_gims(src, archive, [("cod", D1)], chains=chains, force=True)
    assert [(r.status, r.product) for r in forced.results] == [("skipped", "cod")]
    assert str(archive.gim_product("cod", D1)) == "final cod"
    forced = ingest_gims(src, archive, [("cod", D3)], chains=chains, force=True)  # rapid held: the final is tried
    [again] = forced.results
    assert (again.status, again.product) == ("fetched", "cor") and again.reason.startswith("cod: refused: ")
    assert str(archive.gim_product("cod", D3)) == "rapid cor"


def test_the_centres_own_final_replaces_a_fallback_centres_final_when_it_comes_out(tmp_path):
    """Eleventh round: with SWX_GIM_FALLBACKS=["igs"], a day CODE's final was late took IGS's final
    under cod at level "final"; CODE's own final, out the next day, was then "skipped" (already final).
    Of two maps of one level the centre's own is better: it replaces the fallback's (an upgrade, so
    what was derived from the day is revised), and never the other way round."""
    folder = tmp_path / "feed"
    folder.mkdir()
    archive = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    chains = {"cod": ["cod", "igs"]}
    _product_file(folder, "igs", D1, seed=1)
    [first] = ingest_gims(src, archive, [("cod", D1)], chains=chains).results
    assert (first.status, first.product, first.level) == ("fetched", "igs", "final")
    _product_file(folder, "cod", D1, seed=2)  # CODE's own final is out
    second = ingest_gims(src, archive, [("cod", D1)], chains=chains)
    [got] = second.results
    assert (got.status, got.product, got.level) == ("upgraded", "cod", "final")
    assert got.reason == "replaces the final igs" and [r.day for r in second.upgraded] == [D1]
    np.testing.assert_array_equal(archive.open_gim("cod", D1).tec.values, make_gim(D1, seed=2).tec.values)
    # the fallback never replaces the centre's own, forced or not (forced, CODE's is fetched again)
    for force, status in ((False, "skipped"), (True, "fetched")):
        [again] = ingest_gims(src, archive, [("cod", D1)], chains=chains, force=force).results
        assert (again.status, again.product) == (status, "cod"), again
    assert str(archive.gim_product("cod", D1)) == "final cod"


def test_a_folder_of_rapid_final_and_predicted_files_goes_to_the_centre_and_the_rival(tmp_path, monkeypatch):
    from swx.config import get_settings
    from swx.pipeline.ingest import ingest_gims_stage
    from swx.store.db import open_database
    from swx.store.queries import input_file_ids, input_files

    folder = tmp_path / "feed"
    folder.mkdir()
    _product_file(folder, "cor", D1, seed=1)
    _product_file(folder, "cor", D2, seed=1)
    _product_file(folder, "cod", D2, seed=2)
    _product_file(folder, "c1p", D2, seed=4)
    monkeypatch.setenv("SWX_GIM_SOURCE", "local")
    monkeypatch.setenv("SWX_GIM_LOCAL_DIR", str(folder))
    get_settings.cache_clear()
    settings = get_settings()
    summary = ingest_gims_stage(settings, None)
    assert sorted((r.centre, r.day, r.product) for r in summary.results) == [
        ("c1p", D2, "c1p"), ("cod", D1, "cor"), ("cod", D2, "cod")]
    archive = Archive(settings.archive_dir)
    assert [str(archive.gim_product("cod", d)) for d in (D1, D2)] == ["rapid cor", "final cod"]
    assert str(archive.gim_product("c1p", D2)) == "predicted c1p"
    engine = open_database(settings)
    assert set(input_file_ids(engine, "cod", D1, D2)) == {D1, D2}
    files = input_files(engine)
    assert list(files[["centre", "day", "product", "level"]].itertuples(index=False, name=None)) == [
        ("c1p", D2, "c1p", "predicted"), ("cod", D1, "cor", "rapid"), ("cod", D2, "cod", "final")]


def test_the_daily_ingest_waits_a_bounded_time_for_the_issue_days_map(tmp_path, monkeypatch, caplog):
    """The issue day's map is tried again every 10 minutes for SWX_GIM_WAIT_MIN; when it has not come by
    then the run goes on (degraded), and says so. A map that comes during the wait is taken."""
    from swx.config import get_settings
    from swx.pipeline.schedule import default_issue_day, ingest_waiting

    folder = tmp_path / "feed"
    folder.mkdir()
    _product_file(folder, "cor", D1, seed=1)
    monkeypatch.setenv("SWX_GIM_SOURCE", "local")
    monkeypatch.setenv("SWX_GIM_LOCAL_DIR", str(folder))
    monkeypatch.setenv("SWX_GIM_WAIT_MIN", "30")
    get_settings.cache_clear()
    settings = get_settings()
    now = [0.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with caplog.at_level("INFO", logger="swx.pipeline.schedule"):
        summary = ingest_waiting(settings, [D1, D2], D2, sleep=sleep, clock=lambda: now[0])
    assert slept == [600.0, 600.0, 600.0] and [r.status for r in summary.results] == ["fetched", "missing"]
    assert "no cod map of 2020-01-09 after waiting 30 min: the forecast runs degraded" in caplog.text

    def arrives(seconds: float) -> None:  # the rapid map comes out during the first pause
        sleep(seconds)
        _product_file(folder, "cor", D3, seed=1)

    slept.clear()
    summary = ingest_waiting(settings, [D3], D3, sleep=arrives, clock=lambda: now[0])
    assert slept == [600.0] and [(r.day, r.status, r.level) for r in summary.results] == [(D3, "fetched", "rapid")]
    assert default_issue_day(dt.datetime(2020, 1, 10, 6, 30, tzinfo=dt.UTC)) == D2  # yesterday's maps at 06:30


@pytest.mark.parametrize("damage, reason", [
    (lambda ds: ds.assign(tec=ds.tec * np.nan), "has values at 0% of its nodes"),
    (lambda ds: ds.assign(tec=ds.tec.where(ds.lat > -40)), "has values at 72% of its nodes"),
    # a ninth round: the last map (24:00) was named "00:00" like the first
    (lambda ds: ds.assign(tec=ds.tec.where(ds.time < ds.time[-1])),
     "TEC map 13 (2020-01-09 00:00 UT) has values at 0%"),
    (lambda ds: ds.isel(time=[0]), "leave 24 h of 2020-01-08 without a map"),
    (lambda ds: ds.isel(time=slice(0, 7)), "leave 12 h of 2020-01-08 without a map"),
    (lambda ds: ds.sel(lat=ds.lat >= 0), "a regional grid (latitude 0..87.5"),
    (lambda ds: ds.assign(tec=ds.tec * 0), "averages 0.0 TECU over the globe"),
    (lambda ds: ds.assign(tec=ds.tec * 0 + 999.8), "holds 999.8 TECU at 87.5°, -180°"),
    (lambda ds: ds.assign(tec=ds.tec * 0.1), "averages 0.9 TECU over the globe"),
    (lambda ds: ds.assign(tec=ds.tec.where(ds.time != ds.time[6], ds.tec * 10)),
     "the map of 12:00 UT averages 89.8 TECU over the globe, 9.9 x the day's typical"),
    (lambda ds: ds.assign(tec=ds.tec * 0 + ds.tec.isel(time=0)), "all 13 maps hold the same values"),
    # a tenth round: one map of a single value (7.0 TECU at every node) was archived
    (lambda ds: ds.assign(tec=ds.tec.where(ds.time != ds.time[6], 7.0)),
     "TEC map 7 (2020-01-08 12:00 UT) holds one value, 7 TECU, at every node"),
    # an eleventh round: maps off the day's grid of epochs were archived as a good day (then a forecast
    # was published "ok" from a cutoff at 00 UT); older products' maps at 01:00, 03:00 ... are a grid
    (lambda ds: ds.isel(time=slice(0, 12)).assign_coords(time=ds.time[:12] + np.timedelta64(30, "s")),
     "the map of 00:00:30 UT is off the day's grid of epochs"),
    # a thirteenth round: one node of 399 TECU (under the ceiling) in a quiet day was archived as a final
    (lambda ds: ds.assign(tec=ds.tec.where(~((ds.time == ds.time[2]) & (ds.lat == 87.5) & (ds.lon == 0)), 399.0)),
     "the map of 04:00 UT holds 399.0 TECU at 87.5°, 0°, where its neighbours hold at most"),
    # a fourteenth round: the same spike at +180° (only -180° was checked), two neighbouring nodes, a 2 x 2
    # patch, and a hole of 0 TECU at the crest were archived
    (lambda ds: ds.assign(tec=ds.tec.where(~((ds.time == ds.time[2]) & (ds.lat == 0) & (ds.lon == 180)), 399.0)),
     "the map of 04:00 UT holds 399.0 TECU at 0°, 180°, where its neighbours hold at most"),
    (lambda ds: ds.assign(tec=ds.tec.where(~((ds.time == ds.time[2]) & (ds.lat == 40) & ds.lon.isin([10, 15])), 399.0)),
     "the map of 04:00 UT holds 399.0 TECU at 40°,"),
    (lambda ds: ds.assign(tec=ds.tec.where(~((ds.time == ds.time[2]) & ds.lat.isin([40, 42.5]) & ds.lon.isin([10, 15])),
                                           399.0)), "the map of 04:00 UT holds 399.0 TECU at "),
    (lambda ds: ds.assign(tec=ds.tec.where(~((ds.time == ds.time[2]) & (ds.lat == 0) & (ds.lon == 145)), 0.0)),
     "the map of 04:00 UT holds 0.0 TECU at 0°, 145°, where its neighbours hold at least"),
], ids=["all-9999", "southern-third-9999", "last-map-9999", "one-map", "half-a-day", "regional-grid", "all-zero", "ceiling",
        "a-tenth", "one-map-tenfold", "frozen", "one-flat-map", "thirty-seconds", "one-node-spike", "spike-at-180",
        "two-node-spike", "patch-spike", "hole"])
def test_a_file_that_is_not_a_usable_global_day_is_never_archived(tmp_path, damage, reason):
    """Whatever its name says: a day of maps without values, with one map or half a day of them, or on
    a regional grid is refused with the reason and nothing is archived, so the good file offered later
    is archived (not skipped as a day already held)."""
    from swx.io.ionex import write_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    a = Archive(tmp_path / "archive")
    write_ionex(damage(make_gim(D1)), folder / "codg0080.20i")
    src = LocalDirectorySource(folder)
    [bad] = ingest_gims(src, a, src.available()).results
    assert bad.status == "failed" and reason in bad.reason and "codg0080.20i" in bad.reason, bad.reason
    assert "\n" not in bad.reason and not a.has_gim("cod", D1) and a.gim_days("cod") == []
    write_ionex(make_gim(D1), folder / "codg0080.20i")
    [good] = ingest_gims(src, a, src.available()).results
    assert good.status == "fetched" and a.has_gim("cod", D1)


def test_no_real_map_has_a_node_standing_alone_above_its_neighbours(shared_data):
    """The spike rule against every real standard-grid IONEX file in ../shared (five centres, solar
    minimum to maximum, a storm): none is refused by it."""
    import warnings

    from swx.io.ionex import read_ionex
    from swx.pipeline.ingest import isolated_peak

    checked = 0
    for path in sorted((shared_data / "ionex").iterdir()) + sorted((shared_data / "ionex-predicted").iterdir()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_ionex(path)
        except Exception:  # noqa: BLE001 - the damaged samples: refused elsewhere
            continue
        if ds.sizes["lat"] == 71 and ds.sizes["lon"] == 73:
            assert isolated_peak(ds["tec"].values) is None, path.name
            checked += 1
    assert checked == 18


def test_the_ceiling_on_single_values_holds_measured_maps_not_the_simulators_crests():
    """swx's simulator overshoots the crests of solar maximum (590 TECU in October 2014, documented);
    a producer's map with such a value is refused."""
    from swx.errors import IonexFormatError
    from swx.pipeline.ingest import check_day

    ds = make_gim(D1)
    ds["tec"][3, 30, 40] = 450.0
    check_day(ds, D1, "simg0080.20i", measured=False)
    with pytest.raises(IonexFormatError, match=r"codg0080.20i: the map of 06:00 UT holds 450.0 TECU at -?\d"):
        check_day(ds, D1, "codg0080.20i")


def _gfz_file(folder, name: str, kp_value: float, status: str):
    """A GFZ Kp file of 20-21 August 2025, every Kp `kp_value` at `status`."""
    from swx.sources.indices.gfz import format_gfz_text
    from swx.sources.indices.tables import IndexTables, three_hourly

    from swx.sources.indices.tables import AP_OF_KP_THIRDS

    days = pd.DatetimeIndex(["2025-08-20", "2025-08-21"], tz="UTC")
    ap = AP_OF_KP_THIRDS[round(kp_value * 3)]
    kp = pd.DataFrame({"kp": kp_value, "ap": ap, "status": status, "source": "GFZ"}, index=three_hourly(days))
    daily = pd.DataFrame({"Ap": ap, "sn": 50.0, "f107_obs": 150.0, "f107_adj": 150.0, "status": status,
                          "source": "GFZ"}, index=days)
    path = folder / name
    path.write_text(format_gfz_text(IndexTables(kp, daily)))
    return path


def test_an_older_nowcast_never_regresses_definitive_kp_in_the_database(database, tmp_path):
    """Definitive Kp ingested, then an older nowcast file of the same days: the archive keeps the
    definitive values, and so does the database the dashboard reads (it took the nowcast's)."""
    from swx.config import get_settings
    from swx.pipeline.ingest import ingest_indices_stage
    from swx.store import queries as q

    settings = get_settings()
    ingest_indices_stage(settings, file=_gfz_file(tmp_path, "Kp_ap_Ap_SN_F107_since_1932.txt", 3.0, "definitive"))
    ingest_indices_stage(settings, file=_gfz_file(tmp_path, "Kp_ap_Ap_SN_F107_nowcast.txt", 2 + 1 / 3, "preliminary"))
    engine = q.configured_engine()
    stored = q.kp_series(engine, dt.datetime(2025, 8, 20, tzinfo=dt.UTC), dt.datetime(2025, 8, 22, tzinfo=dt.UTC))
    assert len(stored) == 16 and (stored.kp == 3.0).all(), stored
    assert set(stored.status) == {"definitive"}
    held = Archive(settings.archive_dir).load_indices().kp
    assert (held.loc["2025-08-20":"2025-08-21", "kp"] == 3.0).all()


def test_a_kp_ingest_the_database_refuses_changes_nothing_and_the_rerun_does_it_all(database, tmp_path):
    """The database refuses the Kp rows (here its table is gone): the archive was written first, so the
    rerun found nothing changed — no revised days, the storms of the revised days never measured again.
    Now the archive is written after the database: it is unchanged, and the rerun does it all."""
    import sqlalchemy as sa

    from swx.config import get_settings
    from swx.pipeline.ingest import ingest_indices_stage
    from swx.store import queries as q

    settings = get_settings()
    ingest_indices_stage(settings, file=_gfz_file(tmp_path, "Kp_ap_Ap_SN_F107_nowcast.txt", 2 + 1 / 3, "preliminary"))
    archive = Archive(settings.archive_dir)
    before = archive.kp_path.read_bytes()
    engine = q.configured_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE kp_values RENAME TO kp_values_away"))
    definitive = _gfz_file(tmp_path, "Kp_ap_Ap_SN_F107_since_1932.txt", 3.0, "definitive")
    with pytest.raises(sa.exc.SQLAlchemyError):
        ingest_indices_stage(settings, file=definitive)
    assert archive.kp_path.read_bytes() == before and (archive.load_indices().kp.kp.round(3) == 2.333).all()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE kp_values_away RENAME TO kp_values"))
    summary = ingest_indices_stage(settings, file=definitive)
    assert summary.changed == 16 and summary.revised_days == [dt.date(2025, 8, 20), dt.date(2025, 8, 21)]
    stored = q.kp_series(engine, dt.datetime(2025, 8, 20, tzinfo=dt.UTC), dt.datetime(2025, 8, 22, tzinfo=dt.UTC))
    assert len(stored) == 16 and (stored.kp == 3.0).all() and set(stored.status) == {"definitive"}


def test_another_centres_map_under_a_centres_name_is_refused(ionex_dir, tmp_path):
    """A fresh round: JPL's map copied to codg3190.15i was archived as CODE's final."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ionex_dir / "jplg3190.15i", folder / "codg3190.15i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    [bad] = ingest_gims(src, a, src.available()).results
    assert bad.status == "failed" and "named as a cod map, but its header says it was made by JPL" in bad.reason
    assert a.gim_days("cod") == []
    shutil.copy(ionex_dir / "jplg3190.15i", folder / "jplg3190.15i")
    (folder / "codg3190.15i").unlink()
    [good] = ingest_gims(src, a, src.available()).results
    assert good.status == "fetched" and a.gim_days("jpl") == [dt.date(2015, 11, 15)]


def test_a_map_on_another_orientation_is_archived_on_the_gims_own(tmp_path):
    """A fresh round: a legitimate 0..360° grid was archived as it was, so the forecast's history of maps
    (days read as one array) came out 109 columns wide and a third NaN; a south-to-north grid stood
    reversed beside the others. Both are archived on the IONEX orientation, values unchanged."""
    import xarray as xr

    from swx.io.ionex import write_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    base = make_gim(D1)
    west = base.sel(lon=slice(-175.0, -5.0))
    east = xr.concat([base.sel(lon=slice(0.0, 180.0)), west.assign_coords(lon=west.lon + 360.0),
                      base.sel(lon=[0.0]).assign_coords(lon=[360.0])], dim="lon")  # 0 .. 360°
    write_ionex(east, folder / "codg0080.20i")
    write_ionex(make_gim(D2, seed=1).isel(lat=slice(None, None, -1)), folder / "codg0090.20i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    results = ingest_gims(src, a, src.available()).results
    assert [r.status for r in results] == ["fetched", "fetched"], [r.reason for r in results]
    for day, want in ((D1, base), (D2, make_gim(D2, seed=1))):
        got = a.open_gim("cod", day)
        np.testing.assert_array_equal(got.lon.values, want.lon.values)
        np.testing.assert_array_equal(got.lat.values, want.lat.values)
        # (the synthetic maps differ at -180° and 180°, one meridian on real GIMs: the rolled grid repeats 180°)
        same = slice(-175.0, 180.0) if day == D1 else slice(None)
        np.testing.assert_allclose(got.tec.sel(lon=same).values, want.tec.sel(lon=same).values, atol=0.051)
    rolled = a.open_gim("cod", D1)
    np.testing.assert_array_equal(rolled.tec.sel(lon=-180.0).values, rolled.tec.sel(lon=180.0).values)


def test_a_refused_file_is_followed_by_the_days_other_file_in_the_folder(tmp_path):
    """A fresh round: a folder held two files of one day, the first (by name) refused, the second good;
    the day failed, the good file never tried."""
    import gzip

    from swx.io.ionex import format_ionex, write_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    write_ionex(make_gim(D1), folder / "codg0080.20i")
    tenfold = make_gim(D2, seed=1).pipe(lambda ds: ds.assign(tec=ds.tec * 10, rms=ds.rms * 10))
    (folder / "COD0OPSFIN_20200090000_01D_02H_GIM.INX.gz").write_bytes(gzip.compress(format_ionex(tenfold).encode()))
    write_ionex(make_gim(D2, seed=1), folder / "codg0090.20i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    results = ingest_gims(src, a, src.available()).results
    assert [r.status for r in results] == ["fetched", "fetched"], [r.reason for r in results]
    assert results[1].origin.endswith("codg0090.20i") and "COD0OPSFIN" in results[1].reason
    assert "10 x the 9.0 TECU" in results[1].reason


def test_a_grid_other_than_the_gims_standard_one_is_refused_and_0_to_355_is_the_whole_circle(tmp_path):
    """A seventh round: a day on a 1° x 1° grid, or on 2° latitudes, was archived, then every forecast
    reading it failed (numpy could not broadcast it with the other days); longitudes 0..355 (the whole
    circle without the repeated meridian) were archived 72 columns wide. The standard grid is the one
    every day is read on: others are refused by name; 0..355 is rolled onto it."""
    import xarray as xr

    from swx.io.ionex import write_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    fine = make_gim(D1, lat_step=-1.0, lon_step=1.0)
    write_ionex(fine, folder / "codg0080.20i")
    base = make_gim(D2, seed=1)
    circle = xr.concat([base.sel(lon=slice(0.0, 175.0)), base.sel(lon=slice(-180.0, -5.0)).pipe(
        lambda w: w.assign_coords(lon=w.lon + 360.0))], dim="lon")  # 0 .. 355°
    write_ionex(circle, folder / "codg0090.20i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    first, second = ingest_gims(src, a, src.available()).results
    assert first.status == "failed" and "a grid of 176 x 361 nodes (1° x 1°" in first.reason, first.reason
    assert "the GIMs' standard grid: latitude 87.5..-87.5 by 2.5°, longitude -180..180 by 5°" in first.reason
    assert second.status == "fetched", second.reason
    got = a.open_gim("cod", D2)
    assert got.sizes["lon"] == 73 and got.lon.values[0] == -180.0 and got.lon.values[-1] == 180.0
    np.testing.assert_array_equal(got.tec.sel(lon=180.0).values, got.tec.sel(lon=-180.0).values)


def test_a_prediction_renamed_as_a_final_map_is_refused(shared_data, tmp_path):
    """A seventh round: CODE's 1-day prediction copied as codg3000.14i was archived as CODE's final map,
    the truth every forecast of the day would be verified against. Its header says what it is."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared_data / "ionex-predicted" / "c1pg3000.14i", folder / "codg3000.14i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    [result] = ingest_gims(src, a, src.available()).results
    assert result.status == "failed" and "its header says it is a prediction (CODE'S 1-DAY PREDICTED" in result.reason
    assert not a.has_gim("cod", dt.date(2014, 10, 27))


def test_swx_own_forecast_product_renamed_as_a_centres_map_is_refused(tmp_path):
    """A thirteenth round: swx's published IONEX product (tomorrow's, its SIMULATED word removed, as a
    site on real maps publishes it) renamed codg0880.15i was archived as CODE's final observed map. Its
    header says it is a forecast."""
    from swx.products import write_forecast_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    grid = make_gim(D1)
    product = grid.assign(tec_sigma=grid["tec"] * 0.1).assign_attrs(lead_day=2)
    write_forecast_ionex(product, folder / "codg0080.20i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    [result] = ingest_gims(src, a, src.available()).results
    assert result.status == "failed" and "named as a cod (final) map, but its header says it is swx's own forecast (" \
        in result.reason, result.reason
    assert not a.has_gim("cod", D1)


def test_swx_simulated_day_renamed_as_a_centres_map_is_refused(tmp_path):
    """An eleventh round: a `swx simulate day` file saved as codg0790.15i.gz was archived as CODE's final
    observed map, and the runs made from it said "ok" without a word of simulation. Its header says
    what it is; under the simulated source's own name it is archived as ever."""
    from swx.io.ionex import write_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    simulated = make_gim(D1).assign_attrs(description="SIMULATED maps, not observations: swx demo source.")
    write_ionex(simulated, folder / "codg0080.20i")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    [result] = ingest_gims(src, a, src.available()).results
    assert result.status == "failed" and "its header says it is simulated (SIMULATED MAPS, NOT OBSERVATIONS" \
        in result.reason, result.reason
    assert not a.has_gim("cod", D1)


def test_maps_off_the_headers_interval_are_refused_and_older_odd_hour_products_kept(tmp_path, ionex_dir):
    """An eleventh round: a 2-hourly day (INTERVAL 7200) rewritten to 00:00 then 01:00, 03:00 ... 23:00
    was archived (a warning only), and a forecast from it published "ok" from a cutoff at 00 UT. Real
    older products whose 2-hourly maps start at 01:00 (CAS 1999) are a grid of their own: archived."""
    from swx.io.ionex import format_ionex

    folder = tmp_path / "in"
    folder.mkdir()
    shifted = make_gim(D1)
    shifted = shifted.assign_coords(time=np.concatenate([shifted.time[:1], shifted.time[1:] - np.timedelta64(1, "h")]))
    lines = format_ionex(shifted).splitlines()
    lines = [f"{7200:6d}".ljust(60) + "INTERVAL" if ln[60:].strip() == "INTERVAL" else ln for ln in lines]
    (folder / "codg0080.20i").write_text("\n".join(lines) + "\n")
    a = Archive(tmp_path / "archive")
    src = LocalDirectorySource(folder)
    [bad] = ingest_gims(src, a, src.available()).results
    assert bad.status == "failed" and "the map of 01:00:00 UT is off the day's grid of epochs (every 2 h from " \
        "00:00:00)" in bad.reason, bad.reason
    old = LocalDirectorySource(ionex_dir)
    [cas] = ingest_gims(old, a, [i for i in old.available() if i[0] == "cas"]).results
    assert cas.status == "fetched" and a.open_gim("cas", cas.day)["time"].dt.hour.values[0] == 1
