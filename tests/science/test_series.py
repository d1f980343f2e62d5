"""Station series from the archive (missing days counted, never filled) and imported CSV series."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from swx.archive import Archive
from swx.errors import DataFormatError
from swx.science.series import count_gaps, import_series, long_to_wide, read_doy_csv, series_from_archive
from swx.science.stations import load_catalog
from tests.helpers import make_gim


def test_series_from_archive_counts_missing_days(tmp_path):
    a = Archive(tmp_path)
    for d in (dt.date(2015, 3, 1), dt.date(2015, 3, 3)):
        a.store_gim(make_gim(d, hours=1), "sim", d)
    df, report = series_from_archive(a, "sim", load_catalog(), dt.date(2015, 3, 1), dt.date(2015, 3, 3))
    wide = long_to_wide(df)
    assert wide.shape == (36, 18)  # 3 days x 12 steps, 18 stations
    assert report.days_read == 2 and report.days_missing == [dt.date(2015, 3, 2)]
    assert report.missing_steps == 12 * 18 and report.values == 24 * 18
    assert wide.loc["2015-03-02"].isna().all().all()
    g = count_gaps(wide["E000N50"])
    assert g == {"missing": 12, "longest_gap_steps": 12, "values": 24}
    assert "1 missing (2015-03-02)" in str(report)


def test_a_replaced_archive_day_is_read_again_not_served_from_memory(tmp_path):
    """Days read once are kept in memory for the next stage; a day archived again (a corrected or final
    map) is a new file, so its new values are what the next read returns."""
    a = Archive(tmp_path)
    day = dt.date(2015, 3, 1)
    gim = make_gim(day, hours=1)
    a.store_gim(gim, "sim", day)
    stations = load_catalog()
    first, _ = series_from_archive(a, "sim", stations, day, day)
    again, _ = series_from_archive(a, "sim", stations, day, day)
    np.testing.assert_array_equal(first["vtec"].to_numpy(), again["vtec"].to_numpy())
    a.store_gim(gim.assign(tec=gim["tec"] + 5.0), "sim", day)  # the day replaced by another product
    changed, _ = series_from_archive(a, "sim", stations, day, day)
    np.testing.assert_allclose(changed["vtec"].to_numpy(), first["vtec"].to_numpy() + 5.0, atol=0.051)


def test_import_csv_series(tmp_path):
    p = tmp_path / "rx.csv"
    rows = ["time,vtec"] + [f"2017-01-01T{h:02d}:00:00Z,{10 + h}" for h in range(24)]
    rows[4] = "2017-01-01T03:00:00Z,0.0"  # missing, stored as 0
    p.write_text("\n".join(rows) + "\n")
    s, counts = import_series(p)
    assert s.index[0].isoformat() == "2017-01-01T00:00:00+00:00" and len(s) == 12
    assert s.iloc[1] == 12.0 and counts["invalid"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\nyesterday,a\n")
    with pytest.raises(DataFormatError):
        import_series(bad)
    # a fourteenth round: a series of only -0.0 was "no vTEC value on the 2-hour grid" (at even hours)
    for marks in (["-0.0", "-0.0"], ["0", "9999"], ["-1", "nan"]):
        only = tmp_path / "marks.csv"
        only.write_text("time,vtec\n" + "".join(f"2017-01-01T{2 * k:02d}:00:00Z,{v}\n" for k, v in enumerate(marks)))
        with pytest.raises(DataFormatError, match=r"no usable vTEC value: all 2 value\(s\) mark a missing value") as err:
            import_series(only)
        assert "2-hour grid" not in str(err.value) and str(only) in str(err.value)
    odd = tmp_path / "odd.csv"
    odd.write_text("time,vtec\n2017-01-01T01:00:00Z,12\n2017-01-01T05:00:00Z,13\n")
    with pytest.raises(DataFormatError, match="its 2 usable value\\(s\\) fall between the even UTC hours"):
        import_series(odd)


def test_real_randa_series_imports(shared_data, tmp_path):
    import pandas as pd

    src = read_doy_csv(shared_data / "real-series" / "randa-code-10E-3lat" / "Test_data_VTEC.csv",
                       zero_is_missing=False)
    p = tmp_path / "randa40.csv"
    pd.DataFrame({"time": src.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "vtec": src["VTEC_70N"]}).to_csv(p, index=False)
    s, counts = import_series(p)
    assert len(s) == 365 * 12 and counts["invalid"] == 8  # the 0.0 values (missing maps) of 2017 at 70N
    assert counts["missing_steps"] == int(s.isna().sum()) > 0
    assert 10 < np.nanmax(s.to_numpy()) < 20  # high latitude, 2017


def test_doy_table_reads_zeros_as_missing_and_names_a_bad_header(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("Year; DOY; Hour; VTEC_10N\n2015; 32; 0; 0\n2015; 32; 1; 12.5\n")
    d = read_doy_csv(p)
    assert list(d.index.strftime("%Y-%m-%d %H")) == ["2015-02-01 00", "2015-02-01 01"]
    assert np.isnan(d["VTEC_10N"].iloc[0]) and d["VTEC_10N"].iloc[1] == 12.5
    assert read_doy_csv(p, zero_is_missing=False)["VTEC_10N"].iloc[0] == 0.0
    p.write_text("Year;Day;Hour;VTEC_10N\n2015;32;0;1\n")
    with pytest.raises(DataFormatError, match=r"t\.csv.*line 1.*DOY"):
        read_doy_csv(p)
