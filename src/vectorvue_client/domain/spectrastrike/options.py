"""The few choices a caller makes about how SpectraStrike output is normalized."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.errors import VectorVueConfigError

_NAME_RE: Final = re.compile(m.ID_PATTERN)
# A session excerpt is evidence for a reader, not a transcript: beyond a few pages it only
# widens what a leak of the reporting platform would expose.
MAX_SESSION_OUTPUT_CAP: Final = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class SpectraStrikeOptions:
    """How SpectraStrike documents become canonical events.

    - `source_system`: the `source_system` of every event built here (an integration-API
      event document keeps its own); 1-64 characters of [A-Za-z0-9._:-].
    - `session_output_cap`: how many characters of a metasploit session's output (after
      masking credential-shaped text) may be forwarded; 0 forwards none, at most 4096.
    """

    source_system: str = "spectrastrike"
    session_output_cap: int = 512

    def __post_init__(self) -> None:
        low, high = m.NAME_LEN
        name = self.source_system
        if not isinstance(name, str) or not low <= len(name) <= high or not _NAME_RE.match(name):
            raise VectorVueConfigError(
                "source_system", f"must be {low}-{high} characters of [A-Za-z0-9._:-]"
            )
        cap = self.session_output_cap
        if (
            isinstance(cap, bool)
            or not isinstance(cap, int)
            or not 0 <= cap <= MAX_SESSION_OUTPUT_CAP
        ):
            raise VectorVueConfigError(
                "session_output_cap", f"must be an integer from 0 to {MAX_SESSION_OUTPUT_CAP}"
            )
