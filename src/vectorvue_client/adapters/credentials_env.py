"""CredentialSource from an environment variable (the design's `api_key_env`)."""

from __future__ import annotations

from collections.abc import Mapping

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret


class EnvCredentialSource:
    """Reads the credential from `variable` in `environ` at every `get`, so a rotated value
    is picked up; the value is wrapped in a Secret before it leaves this method.

    `environ` is handed in by the container (the process environment in production): the
    adapter never reaches for os.environ itself, and tests pass a plain dict.
    """

    def __init__(self, environ: Mapping[str, str], variable: str, *, field: str) -> None:
        self._environ = environ
        self._variable = variable
        self._field = field

    def get(self) -> Secret:
        """The credential; VectorVueConfigError naming the setting when unset or blank."""
        value = self._environ.get(self._variable)
        if value is None:
            raise VectorVueConfigError(
                self._field, f"environment variable {self._variable} is not set"
            )
        if not value.strip():
            raise VectorVueConfigError(
                self._field, f"environment variable {self._variable} is empty"
            )
        return Secret(value)

    def invalidate(self) -> None:
        """Nothing is kept: every get reads the environment."""
