"""One typed settings object for swx, read from the environment (prefix `SWX_`) and `.env`.

Every setting is documented in `.env.example`; a test keeps the two in step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def recorded_path(path: str | Path, data_dir: str | Path) -> str:
    """How a file is recorded in the database: relative to the data folder (POSIX) when it lies under
    it, so the rows stay right when swx runs from another directory or the folder is mounted at another
    path; a file outside it keeps its absolute path."""
    p, base = Path(path).absolute(), Path(data_dir).absolute()
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)


def is_dangling_link(path: str | Path) -> bool:
    """A link whose target does not exist (a volume not mounted), or a loop of links: a name that is
    there but leads to nothing, never to be called "missing" nor followed to make what it points at."""
    path = Path(path)
    return path.is_symlink() and not path.exists()


def data_path(recorded: str | Path, data_dir: str | Path) -> Path:
    """The file a recorded path names: relative ones under the data folder. Rows written before swx
    recorded paths that way hold paths relative to the working directory of their time: such a path is
    taken as it is when only it exists."""
    p = Path(recorded)
    if p.is_absolute():
        return p
    under = Path(data_dir) / p
    return p if not under.exists() and p.exists() else under


#: A URL's password (`scheme://user:PASSWORD@host`: up to the last @ before the next URL or the line's
#: end, as a server reads it: a password may hold unescaped @, /, quotes or spaces, and a user name
#: blanks) and secrets given as `key=value` (query strings, libpq connection strings: any key naming a
#: password, secret, token, key, signature or credential).
_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^:/@\n]*:)(?:(?!\w[\w+.-]*://)[^\n])*@")
#: A web URL's user part without a password (`https://TOKEN@host`): a token given as the user name
#: (database URLs keep their user: `postgresql://swx@db` names no secret).
_URL_USER_TOKEN = re.compile(r"((?:https?|ftp)://)[^:/@\s?#]+@", re.IGNORECASE)
#: A `key=value` pair (query strings, libpq connection strings, log text): masked when its key, once
#: percent-decoded (a server decodes `pass%77ord` to `password`), names a password, secret, token, key,
#: signature or credential, or is a short bearer key (a session id, an OAuth code) on its own or after
#: `_`, `-`, `.`.
_KEY_VALUE = re.compile(r"(^|[?&;#\s])([\w.%+-]+=)[^&\s]*")
_SECRET_KEY = re.compile(r"password|passwd|pwd|pass|secret|token|key|auth|sig|signature|credential|jwt|session|pw|"
                         r"hmac|ticket", re.IGNORECASE)
_BEARER_KEY = re.compile(r"(?:^|[_.-])(?:sid|code|bearer|assertion|otp)$", re.IGNORECASE)


def _decoded(key: str) -> str:
    """A key as the server reads it: percent-decoded until it no longer changes (`%2577` is `w`)."""
    for _ in range(4):
        plain = urllib.parse.unquote_plus(key)
        if plain == key:
            break
        key = plain
    return key


def _secret_key(key: str) -> bool:
    plain = _decoded(key)
    return bool(_SECRET_KEY.search(plain) or _BEARER_KEY.search(plain))


def _mask_pair(m: re.Match) -> str:
    return f"{m.group(1)}{m.group(2)}***" if _secret_key(m.group(2)[:-1]) else m.group(0)


def _holds_secret_pair(text: str) -> bool:
    return any(_secret_key(m.group(2)[:-1]) for m in _KEY_VALUE.finditer(text))


#: A URL's query and fragment: every value in them is masked (a server may take any key for a
#: credential: `p=`, `cred=`, `pin=`; no list of names can know them all)
_URL_QUERY = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^\s?#]*)([?#]\S*)")
_QUERY_PART = re.compile(r"([?&;#])([^&;#\s]*)")


def _mask_part(m: re.Match) -> str:
    """One part of a query or fragment: `key=***`, or `***` for a part without a key (`?TOKEN`)."""
    key, eq, _ = m.group(2).partition("=")
    return f"{m.group(1)}{key}=***" if eq else (f"{m.group(1)}***" if m.group(2) else m.group(1))


def _mask_query(m: re.Match) -> str:
    return m.group(1) + _QUERY_PART.sub(_mask_part, m.group(2))


def mask_secrets(text: str) -> str:
    """`text` with passwords in URLs, every value of a URL's query, and secret `key=value` parameters
    elsewhere replaced by ***: every URL swx prints or logs goes through this (settings, log lines and
    their tracebacks, error messages, what the archive records of a file's origin)."""
    text = _URL_USER_TOKEN.sub(r"\1***@", _URL_PASSWORD.sub(r"\1***@", text))
    return _KEY_VALUE.sub(_mask_pair, _URL_QUERY.sub(_mask_query, text))


def printable(value: str) -> str:
    """A value as it goes into a log or error line: its line breaks, escape sequences and other control
    characters escaped, so a file name cannot forge a line or colour the terminal."""
    return value if value.isprintable() else value.encode("unicode_escape").decode("ascii")


def mask_value(value: object) -> object:
    """A structure as printed (JSON summaries, settings): every string in it with its secrets masked."""
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return mask_secrets(value) if isinstance(value, str) else value


def install_secret_masking() -> None:
    """Mask secrets in every log record from now on, whichever logger or handler it goes to (the CLI's
    console, Prefect's API log handler): the record's message is formatted and masked where it is made."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return

    def masked(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if isinstance(record.args, tuple):  # a value (a file name, a server's text) cannot forge log lines
            record.args = tuple(printable(a) if isinstance(a, str) else printable(os.fspath(a))
                                if isinstance(a, os.PathLike) and isinstance(os.fspath(a), str) else a
                                for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return record
        record.msg, record.args = mask_secrets(message), ()
        if record.exc_info and not record.exc_text:  # a logged exception's traceback, masked the same way
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
        return record

    masked.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)


#: URL templates per analysis centre, tried in order. Fields: {yyyy} {yy} {doy} and {name}, the file
#: name chosen by date (IGS short name before GPS week 2238 = 2022-11-27, long name from then on);
#: {NAME} is the same name upper-cased (CODE's own server uses upper-case names).
_CDDIS_IONEX = "https://cddis.nasa.gov/archive/gnss/products/ionex/{yyyy}/{doy}/{name}"
DEFAULT_MIRRORS: dict[str, list[str]] = {
    # CODE's finals by year; its rapid and predicted maps of the recent weeks in the top folder
    "cod": ["https://ftp.aiub.unibe.ch/CODE/{yyyy}/{NAME}", _CDDIS_IONEX],
    "cor": ["https://ftp.aiub.unibe.ch/CODE/{NAME}", _CDDIS_IONEX],
    "c1p": ["https://ftp.aiub.unibe.ch/CODE/{NAME}", _CDDIS_IONEX],
    **{code: [_CDDIS_IONEX] for code in ("igs", "igr", "jpl", "jpr", "esa", "esr", "upc", "upr", "uqr")},
}


#: CODE's 1- and 2-day predicted maps: forecasts to verify beside swx's (SWX_GIM_RIVALS), never the
#: observed maps (SWX_GIM_CENTRE, SWX_GIM_FALLBACKS) that forecasts are verified against.
PREDICTED_PRODUCTS = frozenset({"c1p", "c2p"})
#: The lead day of the swx runs a prediction is verified beside: the one with no more information. CODE's
#: 1-day prediction of a day is published the day before, from the maps up to the day before that, as
#: swx's run two days after its maps is (lead day 2); the 2-day prediction is a day earlier still.
PREDICTION_LEAD_DAY: dict[str, int] = {"c1p": 2, "c2p": 3}

#: A product or centre code (IONEX's three characters: cod, cor, c1p, igs, ...): it becomes file and
#: folder names and database keys, so nothing else is taken as one.
_PRODUCT_CODE = re.compile(r"^[a-z][a-z0-9]{2}$")
#: The fields a mirror's URL template may hold (`swx.sources.gim`)
URL_TEMPLATE_FIELDS = frozenset({"yyyy", "yy", "doy", "name", "NAME"})
ExtensionMethod = Literal["residual", "idw", "nequick"]
GimSource = Literal["remote", "local", "simulated"]
GIM_SOURCES: tuple[str, ...] = get_args(GimSource)
EXTENSION_METHODS: tuple[str, ...] = get_args(ExtensionMethod)


def check_product_code(code: str) -> str:
    """`code` when it is a product or centre code (three lower-case letters or digits, a letter first)."""
    if not _PRODUCT_CODE.match(code):
        raise ValueError(f"{code[:40]!r} is not a centre or product code (expected three lower-case letters or "
                         "digits, a letter first, e.g. cod, igs, c1p)")
    return code


def check_credentials_over_https(url: str, scheme: str) -> None:
    """Refuse a URL that would send a password or token over anything but https."""
    if scheme != "https" and (_URL_PASSWORD.search(url) or _URL_USER_TOKEN.search(url) or _holds_secret_pair(url)
                              or re.search(r"[?#]\S", url)):  # any query or fragment may carry a credential
        raise ValueError(f"{mask_secrets(url)[:80]!r} sends credentials over plain {scheme}: use https")


def check_url_template(template: str) -> str:
    """`template` when it is an http(s) URL whose fields are those a mirror can fill."""
    import string

    if not template.isprintable() or any(c.isspace() for c in template):  # a blank or a line break: the
        # mask reads a URL to its first one (a password's tail would be printed) and no server reads it
        raise ValueError(f"{mask_secrets(printable(template))[:80]!r} holds a blank, a line break or another control "
                         "character: percent-encode it in the URL (%20 for a blank)")
    scheme = template.split("://", 1)[0].lower() if "://" in template else ""
    if scheme not in ("https", "http"):  # swx's downloader speaks http(s) only (CDDIS and AIUB serve https)
        raise ValueError(f"{mask_secrets(template)[:80]!r} is not an http(s) URL template")
    try:
        parts = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{mask_secrets(template)[:80]!r}: {exc}") from None
    fields = {f for f, _, _ in parts}
    styled = sorted({f for f, spec, conv in parts if spec or conv})
    if styled:  # {yyyy:>10} or {name!r} would put blanks or quotes in the URL fetched
        raise ValueError(f"{mask_secrets(template)[:80]!r}: field(s) {', '.join(styled)} with a format or a conversion "
                         "(expected plain fields such as {yyyy} and {name})")
    check_credentials_over_https(template, scheme)
    if fields - URL_TEMPLATE_FIELDS:
        raise ValueError(f"{mask_secrets(template)[:80]!r}: unknown field(s) {', '.join(sorted(fields - URL_TEMPLATE_FIELDS))}"
                         f" (expected {{{'}, {'.join(sorted(URL_TEMPLATE_FIELDS))}}})")
    try:  # a field with a format or a conversion ({doy:%Y}) fails only when a day is fetched: try one now
        template.format(yyyy="2020", yy="20", doy="008", name="codg0080.20i.Z", NAME="CODG0080.20I.Z")
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"{mask_secrets(template)[:80]!r} cannot be filled: {exc} (expected plain fields such as "
                         "{yyyy} and {name})") from None
    return template


#: The station models, in the order they are shown: the method's three networks and the linear member.
NETWORKS: tuple[str, ...] = ("lstm", "gru", "cnn")
ARCHITECTURES: tuple[str, ...] = NETWORKS + ("ridge",)
#: how a day is written wherever swx reads one (arguments, settings): Python also reads 20150328,
#: 2015-W13 and 2015-W13-6 as dates, which nobody means by a day
ISO_DAY = r"\d{4}-\d{2}-\d{2}"

#: The days a forecast covers, counted from its information cutoff (the newest map's epoch, 22 UT):
#: lead day 1 is hours 2-24 after it (the next UT day), lead day 2 hours 26-48 (the UT day after).
#: Each lead day has its own station models, learnt on its own targets.
LEAD_DAYS: tuple[int, ...] = (1, 2)


def lead_hours(lead_day: int) -> tuple[int, int]:
    """The first and last hour after the information cutoff a lead day's forecasts cover: (2, 24) for
    the next UT day, (26, 48) for the day after."""
    return 24 * (lead_day - 1) + 2, 24 * lead_day


def lead_span(lead_day: int) -> str:
    """`lead_hours` as people read it: "2-24", "26-48"."""
    first, last = lead_hours(lead_day)
    return f"{first}-{last}"


def model_family(architecture: str, lead_day: int = 1) -> str:
    """The registry's key of an architecture's models for a lead day: `cnn` (hours 2-24), `cnn@d2`
    (hours 26-48)."""
    if lead_day not in LEAD_DAYS:
        raise ValueError(f"lead day {lead_day}: expected one of {', '.join(map(str, LEAD_DAYS))}")
    return architecture if lead_day == 1 else f"{architecture}@d{lead_day}"

#: Issue days per backfill chunk: long enough to share the 40-day history read and the blends' 30-day
#: lead-in, short enough to resume and to spread over workers.
BACKFILL_CHUNK_DAYS = 30
#: Dask settings of the backfill's workers (dotted keys; the flow's LocalCluster sets them, the image's
#: dask-worker reads them from a DASK_CONFIG file, see `dask_config_tree`). Distributed's nanny gives its
#: workers MALLOC_TRIM_THRESHOLD_ by default, which turns glibc's dynamic mmap threshold off: every large
#: numpy temporary is then mapped and zeroed anew and a backfill chunk takes 1.6x as long (30 days:
#: 27.4 s against 17.3 s, docs/benchmarks.md). None unsets it; numpy and torch stay on one thread.
DASK_CONFIG: dict[str, object] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def dask_config_tree() -> dict[str, object]:
    """DASK_CONFIG as the nested mapping a Dask YAML/JSON config file holds."""
    tree: dict[str, object] = {}
    for key, value in DASK_CONFIG.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = value  # type: ignore[index]
    return tree
#: Latitude bands of the stations, of map verification and of the simulator's checks, by |latitude|:
#: low below 30°, mid from 30° to 60° (both included), high above 60°.
LAT_BANDS = ("low", "mid", "high")


def lat_bands(lat: np.typing.ArrayLike) -> np.ndarray:
    """The latitude band (`LAT_BANDS`) of each latitude."""
    a = np.abs(np.asarray(lat, dtype=float))
    return np.where(a < 30, "low", np.where(a <= 60, "mid", "high"))


def lat_band(lat: float) -> str:
    """The latitude band of one latitude."""
    return str(lat_bands(lat))


#: What a station model learns: the departure from the issue-time baseline (added back), or vTEC itself.
TARGETS = ("departure", "level")
#: What swx publishes at a station: the skill-weighted blend of the models and the two baselines.
BLEND = "blend"
#: The first day swx works on: the first global ionospheric maps (CODE, 1995). No day, observation or
#: argument before it is taken.
DATA_ERA_START = dt.date(1995, 1, 1)

#: The centre code of the simulated GIM source: every file, row and product made from it carries it.
SIMULATED_CENTRE = "sim"
#: The source code the observations of an imported series carry (`swx import-series`): kept apart from
#: the values extracted from any centre's maps, even at the same station and time.
IMPORTED_CENTRE = "imported"


class Settings(BaseSettings):
    """swx configuration. Field names map to `SWX_<NAME>` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SWX_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", validate_default=True)

    data_dir: Path = Field(Path("var"), description="Root of the archive, models, products and the SQLite DB")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<data_dir>/swx.sqlite")

    gim_centre: str = Field("cod", description="Analysis centre of the GIMs to ingest (cod, igs, jpl, esa, upc)")
    gim_fallbacks: list[str] | None = Field(
        None, description="Products tried, in order, for a day whose map of the centre is not out yet (JSON list, e.g. "
                          "[\"cor\"]); default the centre's rapid product; [] none")
    gim_upgrade_days: int = Field(14, ge=1, le=60, description="Days back the daily run looks for better maps (finals for "
                                  "days held as rapid) and for days still missing")
    gim_rivals: list[str] = Field(default_factory=lambda: ["c1p"],
                                  description="Forecast maps verified beside swx's, same days and samples (JSON list; "
                                              "default CODE's 1-day prediction c1p); not with the simulated source")
    gim_wait_min: float = Field(0.0, ge=0, le=720, allow_inf_nan=False, description="Daily run: minutes to wait for the issue day's map "
                                "(tried again every 10 min) before forecasting degraded from older maps")
    gim_source: GimSource = Field(
        "simulated", description="Where GIMs come from: remote mirrors, a local folder, or the simulator")
    gim_local_dir: Path | None = Field(None, description="Folder of IONEX files for gim_source=local")
    gim_mirrors: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_MIRRORS.items()},
                                              description="URL templates per centre (JSON)")

    sim_seed: int = Field(42, ge=0, le=2**63 - 1, description="Seed of the simulated GIM source (same seed, same maps)")
    sim_cadence_min: int = Field(120, description="Simulated map interval: 120 (13 maps a day, like IGS) or 60 (25, like CODE)")
    # two years of history before the forecast days (the models see two seasonal cycles), then 14
    # forecast days around the 17 March 2015 storm
    demo_start: dt.date = Field(dt.date(2013, 3, 1), description="First day of the offline demo window")
    demo_end: dt.date = Field(dt.date(2015, 3, 28), description="Last day of the offline demo window")
    cache_dir: Path | None = Field(None, description="Cache (NeQuick tables); default <data_dir>/cache")

    station_catalog: Path | None = Field(None, description="CSV of virtual stations; default the method's 18")

    forecast_architecture: str = Field(
        "blend", description="Station forecast extended to the global map: the published blend (default) or one "
                             "model (all are forecast and stored)")
    map_model: Literal["nodes", "stations"] = Field(
        "nodes", description="The global map: 'nodes' (a forecast at every grid node, the stations' blend spread over "
                             "it, blended walk-forward with persistence and the 27-day median, calibrated sigma) or "
                             "'stations' (the 18 stations extended over the baselines' map alone)")
    extension_method: ExtensionMethod = Field(
        "residual", description="Global extension method (residual field: best measured, docs/extension.md)")
    extension_compare: list[str] = Field(default_factory=list,
                                         description="Extra extension methods run and verified beside it (JSON list)")
    storm_quiet_gap_h: float = Field(12.0, ge=3, le=240, allow_inf_nan=False, description="Storm intervals closer than this are one event (hours)")

    dask_address: str | None = Field(None, description="Dask scheduler for backfills (tcp://host:8786); default a LocalCluster")
    dask_workers: int = Field(2, ge=1, le=256, description="Worker processes of the backfill's LocalCluster")
    status_max_age_h: float = Field(30.0, gt=0, le=24 * 366, allow_inf_nan=False, description="swx status fails when the latest run is older (hours)")
    train_max_windows: int | None = Field(None, ge=100, description="First training of the networks (main job, daily flow): at most "
                                          "this many windows per station, spread over the whole history (a small "
                                          "machine's shortcut: fewer windows, weaker networks); unset: all")
    demo_forecast_days: int = Field(14, ge=1, description="Main job: forecast and verify the last N days of the demo window")

    kp_source: Literal["gfz", "bundled"] = Field("bundled", description="Kp source: GFZ web files or the bundled history")
    kp_url: str = "https://kp.gfz-potsdam.de/app/files/Kp_ap_Ap_SN_F107_since_1932.txt"
    kp_nowcast_url: str = "https://kp.gfz-potsdam.de/app/files/Kp_ap_Ap_SN_F107_nowcast.txt"

    earthdata_netrc: Path | None = Field(None, description="netrc with Earthdata (urs.earthdata.nasa.gov) credentials; default ~/.netrc")

    http_timeout_s: float = Field(60.0, gt=0, le=3600, allow_inf_nan=False)
    http_retries: int = Field(4, ge=0, le=100, description="Retries after the first attempt, on timeouts and 5xx")
    http_backoff_s: float = Field(2.0, ge=0, le=600, allow_inf_nan=False, description="Base of the exponential backoff (with jitter)")

    product_institution: str = Field(
        "swx (site not configured: set SWX_PRODUCT_INSTITUTION)", min_length=1, max_length=120,
        description="Who publishes the products: the netCDF `institution` and an IONEX COMMENT")
    product_license: str = Field(
        "CC-BY-4.0", min_length=1, max_length=120,
        description="Licence of the products (netCDF `license`, IONEX COMMENT)")
    product_contact: str = Field(
        "", max_length=120, description="Where users reach the publisher (an e-mail or URL; netCDF `contact`, "
                                        "IONEX COMMENT); empty: the products say no contact is configured")

    device: Literal["auto", "cpu", "cuda"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("demo_start", "demo_end", mode="before")
    @classmethod
    def _iso_day(cls, v: object) -> object:
        """A day as YYYY-MM-DD: pydantic would read 1420070400 as seconds since 1970, silently."""
        if isinstance(v, str) and not re.fullmatch(ISO_DAY, v.strip()):
            raise ValueError(f"{v[:40]!r} is not a day (expected YYYY-MM-DD)")
        return v.strip() if isinstance(v, str) else v

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        expected = "expected e.g. sqlite:///var/swx.sqlite or postgresql+psycopg://user@host/db"
        scheme = re.match(r"^([a-z][a-z0-9]*)(\+[a-z0-9_]+)?://", v)
        if scheme is None:
            raise ValueError(f"not a database URL ({expected})")
        if scheme.group(1) not in ("sqlite", "postgresql"):
            raise ValueError(f"a {scheme.group(1)} database: swx runs on sqlite or postgresql")
        if (scheme.group(2) or "") not in ("", "+psycopg", "+pysqlite"):
            raise ValueError(f"the driver {scheme.group(2)[1:]!r}: swx connects through psycopg (postgresql+psycopg://) "
                             "or SQLite's own (sqlite:///)")
        if scheme.group(1) == "sqlite" and v[scheme.end():].split("?", 1)[0] in ("", "/:memory:", ":memory:"):
            raise ValueError("an in-memory SQLite database keeps nothing between commands: give a file "
                             "(sqlite:////path/swx.sqlite), or leave SWX_DATABASE_URL unset")
        if scheme.group(1) == "sqlite" and "?" in v[scheme.end():] and "uri=true" not in v.split("?", 1)[1]:
            # without uri=true the driver ignores them (?mode=ro wrote anyway)
            raise ValueError("an SQLite URL's options (?mode=ro, ...) are ignored by the driver: give the file alone "
                             "(sqlite:////path/swx.sqlite); a read-only database is a read-only file or mount")
        rest = v[scheme.end():].split("?", 1)[0]
        if rest.count("@") > 1:  # the driver would take the password's tail for the host, and print it
            raise ValueError("its password holds a raw '@': write it as %40 (percent-encoded)")
        host = re.match(r"^(?:\[[^\]]*\]|[^/:]*)(?::([^/]*))?", rest.rsplit("@", 1)[-1])
        if host and host.group(1) and not host.group(1).isdigit():
            raise ValueError(f"not a database URL: its port is not a number ({expected})")
        return v

    @field_validator("gim_centre")
    @classmethod
    def _centre_name(cls, v: str) -> str:
        return check_product_code(v.strip().lower())

    @model_validator(mode="after")
    def _database_file(self) -> Settings:
        """The embedded database's file may be a link (a volume), but not one to nothing: a new empty
        database would be made where the link points, or a loop of links would stop every command."""
        db = self.data_dir / "swx.sqlite"
        if not self.database_url and is_dangling_link(db):
            raise ValueError(f"SWX_DATA_DIR: {db} is a link to {os.readlink(db)}, which leads to no file (a volume not "
                             "mounted, or a loop of links): mount it, or remove the link")
        named = re.match(r"sqlite(?:\+\w+)?:///([^?]+)", self.database_url or "")
        if named and is_dangling_link(link := Path(urllib.parse.unquote(named.group(1)))):
            raise ValueError(f"SWX_DATABASE_URL: {link} is a link to {os.readlink(link)}, which leads to no file (a "
                             "volume not mounted, or a loop of links): mount it, or remove the link")
        return self

    @model_validator(mode="after")
    def _demo_window(self) -> Settings:
        if self.demo_end < self.demo_start:
            raise ValueError(f"SWX_DEMO_END {self.demo_end} is before SWX_DEMO_START {self.demo_start}")
        if self.demo_start < DATA_ERA_START:
            raise ValueError(f"SWX_DEMO_START {self.demo_start} is before the first global maps ({DATA_ERA_START})")
        tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        if self.demo_end > tomorrow:
            raise ValueError(f"SWX_DEMO_END {self.demo_end} is after tomorrow ({tomorrow}): the demo is driven by "
                             "the observed Kp and F10.7")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: object) -> object:
        """A line break or an escape in a path or URL setting would forge output lines (or hide a
        password's tail from the mask): refused, naming the variable only."""
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, str) and not value.isprintable():
                    raise ValueError(f"SWX_{str(key).upper()} holds a line break or another control character")
        return data

    @field_validator("data_dir", "cache_dir", "gim_local_dir", "station_catalog", "earthdata_netrc")
    @classmethod
    def _home(cls, v: Path | None) -> Path | None:
        return None if v is None else v.expanduser()

    @field_validator("earthdata_netrc", "station_catalog")
    @classmethod
    def _a_named_file(cls, v: Path | None, info) -> Path | None:
        """A file named is read: a folder or a missing file would be passed over without a word (the
        archive answering with its login page) or end in the OS's error naming no setting."""
        if v is not None and not v.is_file():
            what = "a folder" if v.is_dir() else "not a regular file" if v.exists() else "missing"
            expected = ("a netrc file (or leave it unset for ~/.netrc)" if info.field_name == "earthdata_netrc"
                        else "a CSV of stations (or leave it unset for the method's 18)")
            raise ValueError(f"{v} is {what}: expected {expected}")
        return v

    @field_validator("data_dir", "cache_dir")
    @classmethod
    def _a_folder(cls, v: Path | None) -> Path | None:
        if v is not None and is_dangling_link(v):
            raise ValueError(f"{v} is a link to {os.readlink(v)}, which leads to no folder (a volume not mounted, "
                             "or a loop of links): mount it, or remove the link")
        if v is not None and v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file: expected a folder (or a path where one can be made)")
        return v

    @field_validator("kp_url", "kp_nowcast_url")
    @classmethod
    def _kp_url(cls, v: str) -> str:
        scheme = v.split("://", 1)[0].lower() if "://" in v else ""
        if scheme not in ("https", "http"):
            raise ValueError(f"{mask_secrets(v)[:80]!r} is not an http(s) URL")
        check_credentials_over_https(v, scheme)
        return v

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_is_default(cls, v: object) -> object:
        return Path("var") if isinstance(v, str) and not v.strip() else v

    @field_validator("gim_mirrors")
    @classmethod
    def _mirrors(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        v = {code.strip().lower(): templates for code, templates in v.items()}  # as SWX_GIM_CENTRE: COD is cod
        for code, templates in v.items():
            check_product_code(code)
            if not templates:
                raise ValueError(f"{code}: no URL template")
            for t in templates:
                check_url_template(t)
        return v

    @field_validator("extension_compare")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in EXTENSION_METHODS]
        if bad:
            raise ValueError(f"unknown method(s) {', '.join(map(repr, bad))}: expected {', '.join(EXTENSION_METHODS)}")
        return list(dict.fromkeys(v))  # a method named twice is computed once

    @field_validator("gim_local_dir", "earthdata_netrc", "database_url", "cache_dir", "station_catalog", "dask_address",
                     "gim_fallbacks", "train_max_windows",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("sim_cadence_min")
    @classmethod
    def _cadence(cls, v: int) -> int:
        if v not in (60, 120):
            raise ValueError("SWX_SIM_CADENCE_MIN must be 60 or 120")
        return v

    @field_validator("forecast_architecture")
    @classmethod
    def _published(cls, v: str) -> str:
        if v not in (BLEND, *ARCHITECTURES):
            raise ValueError(f"SWX_FORECAST_ARCHITECTURE must be one of {', '.join((BLEND, *ARCHITECTURES))}, not {v!r}")
        return v

    @field_validator("gim_fallbacks", "gim_rivals")
    @classmethod
    def _lower_all(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [check_product_code(c.strip().lower()) for c in v if c.strip()]

    @field_validator("gim_rivals")
    @classmethod
    def _predictions(cls, v: list[str]) -> list[str]:
        """The rivals are forecasts: an observed product there (the centre itself) would be scored
        against its own maps, 0.00 TECU, as a rival's skill."""
        observed = [c for c in v if c not in PREDICTED_PRODUCTS]
        if observed:
            raise ValueError(f"{', '.join(observed)} is not a predicted product (expected "
                             f"{', '.join(sorted(PREDICTED_PRODUCTS))}): observed maps are the truth forecasts are "
                             "verified against, not a forecast beside them")
        return v

    @field_validator("gim_centre", "gim_fallbacks")
    @classmethod
    def _observed_maps(cls, v, info):
        """The centre and its fallbacks are maps of what happened (the truth forecasts are verified
        against): a prediction there is refused here, not by each ingest."""
        predicted = [c for c in ([v] if isinstance(v, str) else v or []) if c in PREDICTED_PRODUCTS]
        if predicted:
            raise ValueError(f"SWX_{info.field_name.upper()}: {', '.join(predicted)} is a predicted product, not a "
                             "map of what happened (predictions go in SWX_GIM_RIVALS)")
        return v

    @property
    def display_database_url(self) -> str:
        """The database URL with its password masked: the only form printed or logged."""
        return mask_secrets(self.resolved_database_url)

    @property
    def resolved_database_url(self) -> str:
        """SWX_DATABASE_URL, or the SQLite file in the data folder. The path's `%`, `?` and `#` are
        escaped: in a URL they would start an escape, a query or a fragment (a folder `d?x=1` made the
        database the file `d`; `d%41b` put it in `dAb`)."""
        if self.database_url:
            return self.database_url
        try:
            path = str((self.data_dir / "swx.sqlite").resolve())
        except (RuntimeError, OSError):  # a loop of links above it: named by the first command that opens it
            path = str((self.data_dir / "swx.sqlite").absolute())
        return "sqlite:///" + path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")

    @property
    def centre(self) -> str:
        """The centre code the archive, the database rows and the products carry."""
        return SIMULATED_CENTRE if self.gim_source == "simulated" else self.gim_centre

    @property
    def simulated(self) -> bool:
        return self.centre == SIMULATED_CENTRE

    @property
    def models_dir(self) -> Path:
        """The model registry's checkpoint folder."""
        return self.data_dir / "models"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def netrc_path(self) -> Path:
        return self.earthdata_netrc or Path.home() / ".netrc"


#: `SWX_` variables that are not settings: read by the deployment (infra/), the image's entrypoint and
#: the tests. Any other `SWX_` name is taken for a misspelt setting and warned about.
OTHER_SWX_VARIABLES = frozenset({
    "SWX_TEST_DATABASE_URL", "SWX_SHARED_DATA", "SWX_REQUIRE_BROWSER",  # tests
    "SWX_DB", "SWX_DB_USER", "SWX_DB_PASSWORD", "SWX_READONLY_ROLE", "SWX_READONLY_PASSWORD",  # infra
    "SWX_READONLY_DATABASE_URL", "SWX_BIND_ADDRESS", "SWX_IMAGE", "SWX_TAG", "SWX_GPU_TAG", "SWX_NAME",
    "SWX_CODE_VERSION", "SWX_REPO_DIR", "SWX_PYTHON", "SWX_ENTRYPOINT_DRY_RUN", "SWX_DASK_NWORKERS",
})
_ENV_FILE = Path(".env")


#: settings given as a JSON object: a key given twice keeps only its last value in JSON
JSON_OBJECT_SETTINGS = ("SWX_GIM_MIRRORS",)


def _refuse_repeated_keys() -> None:
    """A JSON object setting that names a key twice (the first list of mirrors silently dropped) is a
    SettingsError naming the setting and the key; its value is never printed (it may hold a token)."""
    import json

    from dotenv import dotenv_values

    from swx.errors import SettingsError

    file_values = dotenv_values(_ENV_FILE) if _ENV_FILE.is_file() else {}
    for name in JSON_OBJECT_SETTINGS:  # read in any case, as the settings are (`swx_gim_mirrors` is this one)
        given = {k: v for k, v in os.environ.items() if k.upper() == name} or {
            k: v for k, v in file_values.items() if k.upper() == name and v is not None}
        if len({v for v in given.values()}) > 1:
            raise SettingsError(f"{name}: set {len(given)} times in different spellings ({', '.join(sorted(given))}) "
                                "with different values: expected it once")
        raw = next(iter(given.values()), None)
        if not raw:
            continue

        def once(pairs: list[tuple[str, object]], name: str = name) -> dict[str, object]:
            keys = [k.strip().lower() for k, _ in pairs]  # centre codes are read in lower case: `COD` is `cod`
            if twice := sorted({k for k in keys if keys.count(k) > 1}):
                raise SettingsError(f"{name}: the key(s) {', '.join(map(repr, twice))} given twice (JSON keeps only the "
                                    "last): expected each key once, its values in one list")
            return dict(pairs)

        with contextlib.suppress(json.JSONDecodeError):  # not JSON: pydantic's reading names it
            json.loads(raw, object_pairs_hook=once)


def _env_file_keys() -> list[str]:
    """The names `.env` sets, every line checked first: a `.env` that is not a regular file (a pipe
    would be read forever) or holds a line that is not `NAME=value` is a `SettingsError` naming the
    line (the line itself is never printed: it may hold a password). python-dotenv drops such a line
    with a warning, and the setting it meant falls back to its default: another database, say."""
    import io
    import stat

    from dotenv.parser import parse_stream

    from swx.errors import SettingsError

    if is_dangling_link(_ENV_FILE):  # a secrets volume not mounted: not "no .env"
        raise SettingsError(f".env in {Path.cwd()} is a link to {os.readlink(_ENV_FILE)}, which does not exist "
                            "(expected SWX_NAME=value lines, or no .env at all)")
    try:
        st = _ENV_FILE.stat()
    except OSError:
        return []
    if not stat.S_ISREG(st.st_mode):
        raise SettingsError(f".env in {Path.cwd()} is not a regular file (expected SWX_NAME=value lines)")
    text = _ENV_FILE.read_bytes().decode("utf-8")  # UnicodeDecodeError: named by get_settings
    keys: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        lead = len(binding.original.string) - len(binding.original.string.lstrip("\r\n"))
        line = binding.original.line + binding.original.string[:lead].count("\n")
        if binding.error:
            raise SettingsError(f".env, line {line}: cannot be parsed (expected SWX_NAME=value; a value with spaces "
                                "or # in quotes)")
        if binding.key and binding.value is None and binding.key.upper().startswith("SWX_"):
            # a name without `=` (a value forgotten, a line cut): python-dotenv drops it without a word
            raise SettingsError(f".env, line {line}: {binding.key[:60]} without a value (expected SWX_NAME=value; "
                                "SWX_NAME= for an empty one)")
        if binding.key:
            for ref in re.findall(r"\$\{([A-Za-z_]\w*)", binding.original.string):
                if ref not in os.environ and ref not in keys:  # python-dotenv puts nothing there, silently
                    logging.getLogger("swx").warning(".env, line %d: ${%s} is not set: it is replaced by nothing "
                                                     "in %s", line, ref[:60], binding.key[:60])
            if binding.key in keys:  # python-dotenv takes the last without a word
                logging.getLogger("swx").warning(".env sets %s twice (lines %d and %d): line %d's value is used",
                                                 binding.key[:60], keys[binding.key], line, line)
            keys[binding.key] = line
    return list(keys)


def _warn_unknown_variables(env_keys: list[str]) -> None:
    """A `SWX_` name in the environment or `.env` that no setting has (SWX_DATA_DRI) is logged as a
    warning, with the setting it is closest to: silently ignored, it leaves the default in force."""
    import difflib

    known = {f"SWX_{name.upper()}" for name in Settings.model_fields}
    given = {k.upper() for k in [*os.environ, *env_keys] if k.upper().startswith("SWX_")}
    for name in sorted(given - known - OTHER_SWX_VARIABLES):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (`swx config` lists the settings)"
        logging.getLogger("swx").warning("%s is not a swx setting and is ignored%s", name[:60], hint)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call `get_settings.cache_clear()`). A setting that
    cannot be right is a `SettingsError` naming the variable and what it expects, never pydantic's
    report (nor the value: it may hold a password)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError as SourceError

    from swx.errors import SettingsError

    try:
        os.getcwd()
    except FileNotFoundError:  # a relative data folder would resolve against nothing
        raise SettingsError("the working directory no longer exists: cd to a folder that does, or set SWX_DATA_DIR "
                            "to an absolute path") from None
    try:
        _warn_unknown_variables(_env_file_keys())
        _refuse_repeated_keys()
        return Settings()
    except UnicodeDecodeError as exc:  # the .env file
        raise SettingsError(f".env: not UTF-8 text (byte {exc.start}) (expected SWX_NAME=value lines in UTF-8)") from None
    except SourceError as exc:  # a list or mapping setting that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"SWX_{field.group(1).upper()}" if field else "a setting"
        raise SettingsError(f"{name}: not valid JSON (expected e.g. [\"cor\"] for a list, "
                            "{\"cod\": [\"https://...\"]} for mirrors)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"SWX_{str(first['loc'][0]).upper()}: " if first.get("loc") else ""  # a rule of several: it names them
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        why = str(first.get("msg", "")).removeprefix("Value error, ")
        if name and why.startswith(name.rstrip(": ")):  # the rule named the setting itself: once is enough
            name = ""
        raise SettingsError(f"{name}{why}{more}") from None
