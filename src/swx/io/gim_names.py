"""IGS file names of GIM products, chosen by date.

Up to GPS week 2237 the IGS used short names, `cccgDDD0.YYi.Z` (Unix compress); from GPS week 2238
(2022-11-27) long names, `AAA0OPSTYP_YYYYDDD0000_01D_SMP_GIM.INX.gz` (gzip).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from swx.config import PREDICTED_PRODUCTS
from swx.errors import InputError

LONG_NAME_FROM = dt.date(2022, 11, 27)  # first day of GPS week 2238

#: centre code -> (long-name prefix, sampling) for the products swx knows.
PRODUCTS: dict[str, tuple[str, str]] = {
    "cod": ("COD0OPSFIN", "01H"), "cor": ("COD0OPSRAP", "01H"),
    "igs": ("IGS0OPSFIN", "02H"), "igr": ("IGS0OPSRAP", "02H"),
    "jpl": ("JPL0OPSFIN", "02H"), "jpr": ("JPL0OPSRAP", "02H"),
    "esa": ("ESA0OPSFIN", "02H"), "esr": ("ESA0OPSRAP", "02H"),
    "upc": ("UPC0OPSFIN", "02H"), "upr": ("UPC0OPSRAP", "02H"),
    "uqr": ("UPC0OPSRAP", "15M"),
    # CODE's 1-day prediction (short name c1pg): a product of its own, never CODE's final map (issue 19)
    "c1p": ("COD0OPSPRD", "01H"),
}
#: Product levels, worst first: for a UT day swx keeps the best map it has (issue 19).
LEVELS: tuple[str, ...] = ("predicted", "rapid", "final")
#: the rapid and predicted products among the codes swx knows; any other code is a final product (the
#: analysis centres' finals, and the simulator's maps, which are the truth of the demo)
_RAPID = frozenset({"cor", "igr", "jpr", "esr", "upr", "uqr"})
#: what the predicted products are, for people (the rivals' names on the Skill page)
PREDICTED_LABELS: dict[str, str] = {"c1p": "CODE's 1-day prediction (c1pg / COD0OPSPRD)",
                                    "c2p": "CODE's 2-day prediction (c2pg)"}
#: the centre's own rapid product: the default fallback while its final map is not out
RAPID_OF: dict[str, str] = {"cod": "cor", "igs": "igr", "jpl": "jpr", "esa": "esr", "upc": "upr"}


def product_level(code: str) -> str:
    """predicted, rapid or final: what kind of map a product code names."""
    code = code.lower()
    return "predicted" if code in PREDICTED_PRODUCTS else "rapid" if code in _RAPID else "final"


def product_chain(centre: str, fallbacks: list[str] | None) -> list[str]:
    """The products archived under `centre`, best first: the centre's own, then `fallbacks` (None: the
    centre's rapid product, where it has one). For each UT day the archive keeps the best one it got."""
    fallbacks = fallbacks if fallbacks is not None else [RAPID_OF[centre]] if centre in RAPID_OF else []
    chain = list(dict.fromkeys([centre.lower(), *(f.lower() for f in fallbacks)]))
    predicted = [c for c in chain if product_level(c) == "predicted"]
    if predicted:  # a forecast map would become the truth that forecasts are verified against
        raise InputError(f"{', '.join(predicted)} is a predicted product: not a map of what happened "
                         "(SWX_GIM_CENTRE / SWX_GIM_FALLBACKS take rapid or final products; SWX_GIM_RIVALS the "
                         "predictions)")
    return chain


def level_rank(level: str) -> int:
    """Order of the levels (predicted 0 < rapid 1 < final 2); an unknown level ranks lowest."""
    return LEVELS.index(level) if level in LEVELS else -1


_LONG_TO_CENTRE = {prefix + ("" if smp != "15M" else "15M"): c for c, (prefix, smp) in PRODUCTS.items()}

_SHORT_RE = re.compile(r"^([a-z0-9]{3})g(\d{3})(\d)\.(\d{2})i", re.IGNORECASE)
_LONG_RE = re.compile(r"^([A-Z0-9]{3}0[A-Z]{3}[A-Z]{3})_(\d{4})(\d{3})(\d{4})_\w{3}_(\w{3})_GIM\.INX",
                      re.IGNORECASE)


@dataclass(frozen=True)
class GimName:
    """What a file name says: analysis centre and UT day."""

    centre: str
    day: dt.date


def short_name(centre: str, day: dt.date, compressed: bool = True) -> str:
    doy = day.timetuple().tm_yday
    return f"{centre.lower()}g{doy:03d}0.{day.year % 100:02d}i" + (".Z" if compressed else "")


def long_name(centre: str, day: dt.date) -> str:
    try:
        prefix, smp = PRODUCTS[centre.lower()]
    except KeyError:
        raise InputError(f"no IGS long name known for centre {centre!r}; known: {sorted(PRODUCTS)}") from None
    doy = day.timetuple().tm_yday
    return f"{prefix}_{day.year:04d}{doy:03d}0000_01D_{smp}_GIM.INX.gz"


def name_for(centre: str, day: dt.date) -> str:
    """The file name under which `centre` publishes the GIM of `day`."""
    return long_name(centre, day) if day >= LONG_NAME_FROM else short_name(centre, day)


def parse_name(filename: str) -> GimName | None:
    """Centre and day from a short or long IGS name (extra suffixes are allowed), else None. Long
    names of the products in PRODUCTS take their short-name code (COD0OPSRAP -> cor, COD0OPSPRD ->
    c1p); other rapid ones the centre's first two letters and r; anything else (swx's own forecasts)
    the three-letter centre."""
    m = _LONG_RE.match(filename)
    if m:
        prefix, year, doy, _, smp = m.groups()
        prefix = prefix.upper()
        centre = _LONG_TO_CENTRE.get(prefix + ("15M" if smp.upper() == "15M" else ""))
        if centre is None:  # a rapid product takes the short-name convention (cor, igr, ...); others the AAA
            centre = prefix[:2].lower() + "r" if prefix.endswith("RAP") else prefix[:3].lower()
        return GimName(centre, _from_doy(int(year), int(doy)))
    m = _SHORT_RE.match(filename)
    if m:
        centre, doy, _, yy = m.groups()
        year = int(yy) + (1900 if int(yy) >= 80 else 2000)
        return GimName(centre.lower(), _from_doy(year, int(doy)))
    return None


def _from_doy(year: int, doy: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)


def url_fields(centre: str, day: dt.date) -> dict[str, str]:
    """Values for the mirror URL templates."""
    name = name_for(centre, day)
    return {"yyyy": f"{day.year:04d}", "yy": f"{day.year % 100:02d}", "doy": f"{day.timetuple().tm_yday:03d}",
            "name": name, "NAME": name.upper() if day < LONG_NAME_FROM else name, "centre": centre}
