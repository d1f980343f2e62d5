"""HTTP downloads that an operational centre can trust: timeouts, retries with exponential backoff and
jitter on transient failures, Earthdata-style login redirects handled (or reported) explicitly, a
bounded body size, and errors that say which day, which URL and what to do.

Credentials from a netrc go only over https, only to the host (and port) an entry names — never the
netrc's `default` entry — and each redirect hop gets only its own host's entry.
"""

from __future__ import annotations

import logging
import netrc
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from swx import __version__
from swx.errors import FetchError, NotFoundError

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_REDIRECTS = 8
#: The largest body a download may have: GIMs and index files are a few MB; anything past this is
#: refused as it streams in, never read whole into memory.
MAX_DOWNLOAD_BYTES = 256 * 2 ** 20


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `retries` more attempts after the first, sleeping backoff * 2**k (+-50 % jitter)."""

    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 2.0
    max_backoff_s: float = 120.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** min(attempt, 64))  # no float overflow
        return base * (0.5 + rng())


class _Transient(Exception):
    """A failure worth retrying."""


def _looks_like_html(resp: httpx.Response, body: bytes) -> bool:
    ctype = resp.headers.get("content-type", "").lower()
    head = body[:512].lstrip().lower()
    return "text/html" in ctype or head.startswith((b"<!doctype html", b"<html"))


class Downloader:
    """Fetches whole files over HTTP(S). One instance keeps one connection pool and cookie jar."""

    def __init__(self, policy: RetryPolicy | None = None, *, netrc_path: Path | None = None,
                 sleep: Callable[[float], None] = time.sleep, client: httpx.Client | None = None,
                 verify: ssl.SSLContext | bool = True, max_bytes: int = MAX_DOWNLOAD_BYTES) -> None:
        self.policy = policy or RetryPolicy()
        self.netrc_path = netrc_path
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout_s), follow_redirects=False, verify=verify,
            headers={"User-Agent": f"swx/{__version__} (space-weather forecasting)"})
        self._machines: dict[str, tuple[str, str]] = {}  # netrc machine (host or host:port) -> (login, password)
        self._withheld: set[str] = set()
        if netrc_path is not None and Path(netrc_path).is_file():
            try:
                entries = netrc.netrc(str(netrc_path)).hosts
            except netrc.NetrcParseError as exc:  # its message quotes the token it choked on: a password, often
                lines = max(1, len(Path(netrc_path).read_text(errors="replace").splitlines()))
                log.warning("cannot read netrc %s: line %s is not `machine HOST login USER password PASS` (its "
                            "credentials are not used)", netrc_path, min(exc.lineno or 1, lines))  # (EOF is past it)
                entries = {}
            except OSError as exc:
                log.warning("cannot read netrc %s: %s", netrc_path, exc.strerror or type(exc).__name__)
                entries = {}
            if "default" in entries:
                log.warning("netrc %s: its 'default' entry is not used (it would go to every host); name each "
                            "host with 'machine'", netrc_path)
            self._machines = {k.lower(): (login or "", password or "")
                              for k, (login, _, password) in entries.items() if k != "default"}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth_for(self, url: str) -> tuple[str, str] | None:
        """The netrc credentials for exactly this URL's host and port (`machine host` stands for the
        https port, `machine host:port` for another), and only over https."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        name = host if parts.port in (None, 443) else f"{host}:{parts.port}"
        entry = self._machines.get(name)
        if entry is None:
            return None
        if parts.scheme != "https":
            if name not in self._withheld:
                self._withheld.add(name)
                log.warning("netrc has credentials for %s, but %s:// would send them in clear: not sent",
                            name, parts.scheme)
            return None
        return entry

    def _once(self, url: str, day: object) -> bytes:
        """One attempt, following redirects by hand so credentials go only to the host they belong to."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with self._client.stream("GET", current, auth=self._auth_for(current)) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError(f"HTTP {resp.status_code} redirect without a Location", url=url, day=day)
                        nxt = urljoin(current, location)
                        log.debug("redirect %s -> %s", current, nxt)
                        current = nxt
                        continue
                    self._check_status(resp, url, current, day)
                    body = self._read_body(resp, url, day)
            except httpx.TimeoutException as exc:
                raise _Transient(f"timed out after {self.policy.timeout_s:g} s ({type(exc).__name__})") from exc
            except httpx.RemoteProtocolError as exc:
                raise _Transient(f"connection closed early, body truncated ({exc})") from exc
            except httpx.TransportError as exc:
                raise _Transient(f"network error: {exc}") from exc
            if _looks_like_html(resp, body):
                where = "" if current == url else f" after a redirect to {current}"
                raise FetchError(f"received an HTML page instead of the file{where} (a login page?)", url=url,
                                 day=day, hint=self._login_hint())
            if not body:
                raise _Transient("empty body")
            return body
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url, day=day, hint=self._login_hint())

    def _check_status(self, resp: httpx.Response, url: str, current: str, day: object) -> None:
        if resp.status_code in (404, 410):
            raise NotFoundError(f"not found (HTTP {resp.status_code})", url=url, day=day,
                                hint="the product may not be published yet for this day, or the mirror "
                                     "uses another layout; try another mirror or a later run")
        if resp.status_code in (401, 403):
            raise FetchError(f"access denied (HTTP {resp.status_code}) at {current}", url=url, day=day,
                             hint=self._login_hint())
        if resp.status_code in RETRY_STATUS:
            raise _Transient(f"server answered HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise FetchError(f"unexpected HTTP {resp.status_code}", url=url, day=day)

    def _read_body(self, resp: httpx.Response, url: str, day: object) -> bytes:
        """The body, streamed in and refused past `max_bytes` (a claimed or an actual size)."""
        expected = resp.headers.get("content-length")
        claimed = int(expected) if expected is not None and expected.isdigit() else None
        too_big = (f"larger than the {self.max_bytes:,} bytes a download may be", "not a GIM or index file: "
                   "check the mirror's URL template")
        if claimed is not None and claimed > self.max_bytes:
            raise FetchError(f"the server announces {claimed:,} bytes, {too_big[0]}", url=url, day=day, hint=too_big[1])
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchError(f"the body grew {too_big[0]}", url=url, day=day, hint=too_big[1])
        if claimed is not None and claimed != len(body) and "content-encoding" not in resp.headers:
            raise _Transient(f"truncated body: {len(body)} of {claimed} bytes")
        return bytes(body)

    def _login_hint(self) -> str:
        path = self.netrc_path or Path.home() / ".netrc"
        return (f"NASA CDDIS needs an Earthdata login: add 'machine urs.earthdata.nasa.gov login USER password "
                f"PASS' to {path} (or set SWX_EARTHDATA_NETRC), or use a mirror without login")

    def get(self, url: str, *, day: object | None = None) -> bytes:
        """The body of `url`, retrying transient failures; FetchError/NotFoundError otherwise."""
        last = ""
        for attempt in range(self.policy.retries + 1):
            try:
                return self._once(url, day)
            except _Transient as exc:
                last = str(exc)
                if attempt < self.policy.retries:
                    wait = self.policy.delay(attempt)
                    log.warning("%s: %s; retry %d/%d in %.1f s", url, last, attempt + 1, self.policy.retries, wait)
                    self._sleep(wait)
        raise FetchError(f"failed after {self.policy.retries + 1} attempts: {last}", url=url, day=day,
                         hint="the server may be down or slow; the run can be repeated later and will "
                              "skip what is already archived")
