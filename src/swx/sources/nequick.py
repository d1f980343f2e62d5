"""NeQuick-G (the Galileo single-frequency ionospheric model), an optional dependency: the simulated
GIM source builds its climatology from it and the `nequick` extension method fits it to the stations.
It is installed apart from the lock (its declared numpy<2 pin would downgrade numpy)."""

from __future__ import annotations

from types import ModuleType

from swx.errors import SwxError


class NeQuickMissingError(SwxError):
    """The `nequick` package is not installed."""


def require_nequick() -> ModuleType:
    """The `nequick` module, or an error that says how to install it."""
    try:
        import nequick  # optional: only the simulator and the nequick extension method need it
    except ImportError as exc:  # pragma: no cover - the Makefile installs it
        raise NeQuickMissingError(
            "NeQuick-G is needed here (the simulated source, the nequick extension method): install the "
            "'nequick' package — `make` does; by hand: pip install --no-deps --require-hashes -r "
            "requirements/nequick.txt (without --no-deps its declared numpy<2 pin would downgrade numpy)") from exc
    return nequick
