"""swx: 24 h vTEC forecasting from Global Ionospheric Maps and Kp."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("swx")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

