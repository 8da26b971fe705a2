"""The version constant is the installed distribution's version."""

from importlib.metadata import version

from vectorvue_client import __version__
from vectorvue_client.version import USER_AGENT


def test_the_version_constant_matches_the_installed_metadata() -> None:
    """pyproject.toml and version.py must move together."""
    assert __version__ == version("vectorvue-client")
    assert f"vectorvue-client/{__version__}" == USER_AGENT
