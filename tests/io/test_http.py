"""Downloads against a real local HTTP server that serves fixtures and misbehaves: 404, a redirect to
a login page, a slow answer, a truncated body, transient 503s, and credentials from a netrc."""

from __future__ import annotations

import base64
import gzip
import ssl

import pytest

from swx.errors import FetchError, NotFoundError
from swx.io.http import Downloader, RetryPolicy
from tests.helpers import FixtureServer, gim_bytes_gz, no_sleep, self_signed_certificate

FAST = RetryPolicy(timeout_s=1.0, retries=2, backoff_s=0.01)


_OPEN: list[Downloader] = []


def downloader(**kw) -> Downloader:
    """A downloader closed at the end of the test (no socket is left for the garbage collector, which
    would report it in whatever test runs then)."""
    d = Downloader(kw.pop("policy", FAST), sleep=kw.pop("sleep", no_sleep()), **kw)
    _OPEN.append(d)
    return d


@pytest.fixture(autouse=True)
def _close_downloaders():
    yield
    while _OPEN:
        _OPEN.pop().close()


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


@pytest.fixture
def https_servers(tmp_path):
    """Two https servers on 127.0.0.1 (two ports) with a self-signed certificate, and a TLS context that
    trusts it."""
    cert, key = self_signed_certificate(tmp_path)
    servers = [FixtureServer(tls=(cert, key)) for _ in range(2)]
    for s in servers:
        s.start()
    yield servers, ssl.create_default_context(cafile=str(cert))
    for s in servers:
        s.stop()


def _port(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


def test_credentials_from_netrc_go_only_over_https_to_the_host_and_port_named(https_servers, http_server, tmp_path,
                                                                             caplog):
    """Issue 18: credentials went by host name only, over plain http, to any port, and netrc's
    `default` entry to every host."""
    (a, b), ca = https_servers
    url_a = a.add("/f.gz", body=b"\x1f\x8bdata")
    url_b = b.add("/g.gz", body=b"\x1f\x8bother")
    url_a_to_b = a.add("/moved.gz", redirect=url_b)
    url_http = http_server.add("/h.gz", body=b"\x1f\x8bplain")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1:{_port(url_a)} login alice password s3cret\n"
                     f"machine 127.0.0.1:{_port(url_http)} login bob password cl3ar\n"
                     "default login mallory password every1\n")
    netrc.chmod(0o600)
    with caplog.at_level("WARNING", logger="swx.io.http"), downloader(netrc_path=netrc, verify=ca) as d:
        assert "'default' entry is not used" in caplog.text
        assert d.get(url_a) == b"\x1f\x8bdata"
        assert a.requests[-1][1].get("Authorization") == "Basic " + base64.b64encode(b"alice:s3cret").decode()
        assert d.get(url_b) == b"\x1f\x8bother"  # the same host, another port: not named, no credentials
        assert "Authorization" not in b.requests[-1][1]
        assert d.get(url_a_to_b) == b"\x1f\x8bother"  # a redirect to another origin: its own (no) credentials
        assert "Authorization" in a.requests[-1][1] and "Authorization" not in b.requests[-1][1]
        assert d.get(url_http) == b"\x1f\x8bplain"  # named, but http: never in clear
    assert "Authorization" not in http_server.requests[-1][1]
    assert "would send them in clear: not sent" in caplog.text
    assert "s3cret" not in caplog.text and "cl3ar" not in caplog.text and "every1" not in caplog.text


def test_an_oversized_body_is_refused_as_it_streams_in(http_server):
    """Issue 18: a 3 GB body was read whole into memory. A claimed size past the limit is refused
    before reading; a body that grows past it (here gzip transfer-encoding) when it gets there."""
    big = http_server.add("/big.gz", body=b"x" * 4000)
    with pytest.raises(FetchError, match="announces 4,000 bytes, larger than the 1,000 bytes") as err, \
            downloader(max_bytes=1000) as d:
        d.get(big, day="2020-01-08")
    assert "URL template" in str(err.value)
    bomb = http_server.add("/bomb.gz", body=gzip.compress(b"\0" * 100_000), headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="grew larger than the 10,000 bytes"), downloader(max_bytes=10_000) as d:
        d.get(bomb)
    with downloader() as d:
        assert d.get(bomb) == b"\0" * 100_000


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
    _OPEN.append(d)
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


def test_a_netrc_that_cannot_be_parsed_is_named_without_quoting_its_tokens(tmp_path, caplog):
    """A sixth round: a netrc entry with `password` left out was reported with Python's message, which
    quotes the token it choked on: the password, in the log."""
    import logging

    from swx.io.http import Downloader

    netrc = tmp_path / "netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login bob S3cretNETRC\n")
    with caplog.at_level(logging.WARNING):
        Downloader(netrc_path=netrc)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot read netrc" in said and "line 1 is not `machine HOST login USER password PASS`" in said
    assert "S3cretNETRC" not in said


def test_the_backoff_of_a_late_attempt_is_the_ceiling_not_an_overflow():
    """A seventh round: SWX_HTTP_RETRIES=1100 reached 2**1024 in the backoff: OverflowError."""
    from swx.io.http import RetryPolicy

    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=120.0)
    assert policy.delay(1100, rng=lambda: 0.5) == 120.0
