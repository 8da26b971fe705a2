"""The package version and the User-Agent it sends."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vectorvue-client")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"

USER_AGENT = f"vectorvue-client/{__version__}"
