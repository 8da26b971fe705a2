"""Validation rules of VectorVueConfig: one small function per kind of value.

Each raises VectorVueConfigError naming the field and the rule it broke; none quotes a
value that could hold a secret without scrubbing it first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.models import HEX64_PATTERN, ID_PATTERN, UUID_PATTERN
from vectorvue_client.domain.redaction import scrub

type Check = Callable[[str, object], None]

_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_PIN: Final = re.compile(HEX64_PATTERN)
_NAME: Final = re.compile(ID_PATTERN)
_UUID: Final = re.compile(UUID_PATTERN)
_HEX64: Final = _PIN
_IDENTITY: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")


def url(schemes: tuple[str, ...], *, path_allowed: bool = True) -> Check:
    """A URL with one of `schemes`, a host, and no userinfo, query or fragment."""

    def check(name: str, value: object) -> None:
        if value is None and name != "base_url":
            return
        if not isinstance(value, str) or not value:
            raise VectorVueConfigError(name, "must be a non-empty string")
        shown = scrub(value)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError:
            raise VectorVueConfigError(name, f"{shown!r} is not a valid URL") from None
        if parts.scheme not in schemes:
            wanted = " or ".join(f"{s}://" for s in schemes)
            got = parts.scheme or "no"
            rule = f"must use {wanted} (got {got} scheme)"
            if schemes == ("https",):
                rule += ": plain HTTP is refused"
            raise VectorVueConfigError(name, rule)
        if not parts.hostname:
            raise VectorVueConfigError(name, f"{shown!r} has no host")
        if parts.username is not None or parts.password is not None:
            raise VectorVueConfigError(
                name, "must not carry credentials (user:password@): they would leak into logs"
            )
        if parts.query or parts.fragment:
            raise VectorVueConfigError(name, "must not have a query string or fragment")
        if not path_allowed and parts.path not in ("", "/"):
            raise VectorVueConfigError(name, "must not have a path")

    return check


def env_name(*, optional: bool) -> Check:
    """The name of an environment variable."""

    def check(name: str, value: object) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            raise VectorVueConfigError(
                name, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
            )

    return check


def seconds(*, optional: bool = False) -> Check:
    """A positive, finite number of seconds."""

    def check(name: str, value: object) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise VectorVueConfigError(name, "must be a number of seconds")
        if not (math.isfinite(value) and value > 0):
            raise VectorVueConfigError(
                name, f"must be a positive, finite number of seconds (got {value!r})"
            )

    return check


def int_range(low: int, high: int | None) -> Check:
    """An integer in [low, high] (no upper bound when high is None)."""

    def check(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise VectorVueConfigError(name, "must be an integer")
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise VectorVueConfigError(name, f"must be {bounds} (got {value})")

    return check


def optional_int_range(low: int, high: int) -> Check:
    """None or an integer in [low, high]."""
    inner = int_range(low, high)

    def check(name: str, value: object) -> None:
        if value is not None:
            inner(name, value)

    return check


def flag(name: str, value: object) -> None:
    """A boolean."""
    if not isinstance(value, bool):
        raise VectorVueConfigError(name, "must be true or false")


def optional_path(name: str, value: object) -> None:
    """None or a non-empty path string (existence is checked when the file is opened)."""
    if value is not None and (not isinstance(value, str) or not value):
        raise VectorVueConfigError(name, "must be a file path")


def text(name: str, value: object) -> None:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise VectorVueConfigError(name, "must be a non-empty string")


def optional_text(name: str, value: object) -> None:
    """None or a non-empty string."""
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise VectorVueConfigError(name, "must be a non-empty string")


def identity(name: str, value: object) -> None:
    """None or a service name as the gateway knows it."""
    if value is not None and (not isinstance(value, str) or not _IDENTITY.match(value)):
        raise VectorVueConfigError(name, "must be 1-128 characters of [A-Za-z0-9._:-]")


def name(field: str, value: object) -> None:
    """A name as VectorVue's event fields take it: 1-64 of [A-Za-z0-9._:-]."""
    if not isinstance(value, str) or len(value) > 64 or not _NAME.match(value):
        raise VectorVueConfigError(field, "must be 1-64 characters of [A-Za-z0-9._:-]")


def party(field: str, value: object) -> None:
    """None or an operator or campaign id as the gateway takes it: 1-128 characters."""
    if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 128):
        raise VectorVueConfigError(field, "must be 1-128 characters")


def uuid(field: str, value: object) -> None:
    """None or a UUID (VectorVue's tenant ids)."""
    if value is not None and (not isinstance(value, str) or not _UUID.match(value)):
        raise VectorVueConfigError(field, "must be a UUID (36 characters, hex and dashes)")


def hex64(field: str, value: object) -> None:
    """None or a SHA-256 as 64 hexadecimal characters."""
    if value is not None and (not isinstance(value, str) or not _HEX64.match(value)):
        raise VectorVueConfigError(field, "must be 64 hexadecimal characters")


def pins(name: str, value: object) -> None:
    """A tuple of SHA-256 fingerprints (64 hex characters each)."""
    if not isinstance(value, tuple):
        raise VectorVueConfigError(name, "must be a tuple of SHA-256 fingerprints")
    for i, pin in enumerate(value):
        if not isinstance(pin, str) or not _PIN.match(pin):
            raise VectorVueConfigError(
                f"{name}[{i}]", "must be 64 hexadecimal characters (a SHA-256, no colons)"
            )


def choice(options: tuple[str, ...]) -> Check:
    """One of `options`."""

    def check(name: str, value: object) -> None:
        if value not in options:
            raise VectorVueConfigError(name, f"must be one of {', '.join(options)} (got {value!r})")

    return check


def choices(options: tuple[str, ...]) -> Check:
    """A non-empty tuple of distinct values from `options`, in order of preference."""

    def check(name: str, value: object) -> None:
        if not isinstance(value, tuple) or not value:
            raise VectorVueConfigError(name, f"must be a non-empty tuple of {', '.join(options)}")
        for i, item in enumerate(value):
            if item not in options:
                raise VectorVueConfigError(
                    f"{name}[{i}]", f"must be one of {', '.join(options)} (got {item!r})"
                )
        if len(set(value)) != len(value):
            raise VectorVueConfigError(name, "names a source twice")

    return check
