"""Downloads against a real local HTTP server that serves fixtures and misbehaves: 404, a redirect to
a login page, a slow answer, a truncated body, transient 503s, and credentials from a netrc."""

from __future__ import annotations

import base64

import pytest

from swx.errors import FetchError, NotFoundError
from swx.io.http import Downloader, RetryPolicy
from tests.helpers import gim_bytes_gz, no_sleep

FAST = RetryPolicy(timeout_s=1.0, retries=2, backoff_s=0.01)


def downloader(**kw) -> Downloader:
    return Downloader(kw.pop("policy", FAST), sleep=kw.pop("sleep", no_sleep()), **kw)


def test_ok(http_server):
    body = gim_bytes_gz()
    url = http_server.add("/ok.gz", body=body)
    assert downloader().get(url) == body


def test_404_is_not_retried(http_server):
    url = http_server.url("/missing.Z")
    sleep = no_sleep()
    with pytest.raises(NotFoundError, match="HTTP 404") as err:
        downloader(sleep=sleep).get(url, day="2020-01-08")
    assert err.value.url == url and "2020-01-08" in str(err.value)
    assert sleep.slept == []


def test_redirect_to_login_page_explains_credentials(http_server):
    login = http_server.add("/oauth/authorize", body=b"<!DOCTYPE html><html>Earthdata Login</html>",
                            headers={"Content-Type": "text/html"})
    url = http_server.add("/archive/codg0080.20i.Z", redirect=login)
    with pytest.raises(FetchError, match="HTML page instead of the file after a redirect") as err:
        downloader().get(url, day="2020-01-08")
    assert "urs.earthdata.nasa.gov" in str(err.value) and url in str(err.value)


def test_credentials_from_netrc_go_to_their_host_only(http_server, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    url = http_server.add("/f.gz", body=b"\x1f\x8bdata")
    assert downloader(netrc_path=netrc).get(url) == b"\x1f\x8bdata"
    auth = http_server.requests[-1][1].get("Authorization")
    assert auth == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_slow_server_times_out_and_retries(http_server):
    url = http_server.add("/slow", body=b"x", delay_s=1.5)
    sleep = no_sleep()
    with pytest.raises(FetchError, match="failed after 3 attempts: timed out") as err:
        downloader(sleep=sleep, policy=RetryPolicy(timeout_s=0.3, retries=2, backoff_s=0.01)).get(url)
    assert "repeated later" in str(err.value)
    assert len(sleep.slept) == 2


def test_truncated_body_is_retried_then_reported(http_server):
    url = http_server.add("/cut.gz", body=b"\x1f\x8b" + b"x" * 100, claimed_length=5000)
    with pytest.raises(FetchError, match="truncated|closed early"):
        downloader().get(url)


def test_transient_503_then_success_with_growing_backoff(http_server):
    url = http_server.add("/busy", body=b"payload", fail_first=2)
    sleep = no_sleep()
    d = Downloader(RetryPolicy(timeout_s=1, retries=4, backoff_s=1.0), sleep=sleep)
    assert d.get(url) == b"payload"
    assert len(sleep.slept) == 2
    assert 0.5 <= sleep.slept[0] <= 1.5 and 1.0 <= sleep.slept[1] <= 3.0  # 1 s then 2 s, +-50 % jitter


def test_403_names_credentials(http_server):
    url = http_server.add("/forbidden", status=403, body=b"no")
    with pytest.raises(FetchError, match="access denied"):
        downloader().get(url)


def test_connection_refused(unused_port=1):
    with pytest.raises(FetchError, match="network error"):
        downloader().get("http://127.0.0.1:9/nothing")


def test_backoff_is_capped():
    p = RetryPolicy(backoff_s=10, max_backoff_s=30)
    assert p.delay(10, rng=lambda: 0.5) == 30
