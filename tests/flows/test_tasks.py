"""The I/O tasks retry what waiting can fix (a server, a download) and nothing else."""

from __future__ import annotations

from prefect.states import Failed

from flows.tasks import ingest_gims, ingest_kp, worth_retrying
from swx.errors import FetchError, InputError, SchemaError


def test_a_wrong_schema_or_bad_input_is_not_retried_a_download_is():
    assert not worth_retrying(None, None, Failed(data=SchemaError("the database ...: run `swx db upgrade`")))
    assert not worth_retrying(None, None, Failed(data=InputError("end 2015-03-01 is before start 2015-03-02")))
    assert worth_retrying(None, None, Failed(data=FetchError("HTTP 503", url="https://example.org/x")))
    assert ingest_gims.retries == ingest_kp.retries == 3
    assert ingest_gims.retry_condition_fn is worth_retrying and ingest_kp.retry_condition_fn is worth_retrying
