"""Stage results as operators read them in the flow logs."""

from __future__ import annotations

from swx.operations import ingest_summary_line


def test_ingest_summary_is_one_line_with_counts_and_the_days_that_did_not_arrive():
    days = {f"2015-03-{d:02d}": {"status": "fetched", "reason": ""} for d in range(1, 29)}
    days["2015-03-05"] = {"status": "skipped", "reason": ""}
    for d in ("2015-03-10", "2015-03-11"):
        days[d] = {"status": "missing", "reason": "not on the server"}
    line = ingest_summary_line({"centre": "cod", "days": days}, shown=1)
    assert "\n" not in line
    assert line.startswith("GIMs cod 2015-03-01 .. 2015-03-28: 25 fetched, 2 missing, 1 skipped")
    assert "2015-03-10 missing (not on the server); and 1 more" in line
    assert "2015-03-11" not in line
    assert ingest_summary_line({"centre": "cod", "days": {}}) == "GIMs cod: no day asked"
