"""Which kind of SpectraStrike document is this? Decided by top-level keys alone.

The detection table (`DETECTION_RULES`): a document is of shape S when it has every key of
S's "has all of" column and none of its "has none of" column.

| shape             | has all of                  | has none of                                 |
|-------------------|-----------------------------|---------------------------------------------|
| cloudevent        | specversion                 |                                             |
| integration_event | source_system, event_type   | specversion                                 |
| broker_envelope   | event_type, idempotency_key | specversion, source_system                  |
| internal_event    | event_type                  | specversion, source_system, idempotency_key |
| nmap_result       | hosts                       | specversion, event_type, module_name, title |
| metasploit_result | module_name                 | specversion, event_type, hosts, title       |
| finding           | title                       | specversion, event_type, hosts, module_name |

Every pair of rows is disjoint (one row requires a key the other forbids), so a document
matches at most one row and the order of the table does not matter; the unit tests check
that property on the table itself. The identifying keys are few on purpose: a document
that is recognisably an nmap result but lacks, say, its context is reported by the nmap
normalizer with the missing field named, instead of as "unknown shape". Why these keys:
`specversion` is the one attribute every CloudEvent carries; `source_system` exists only in
VectorVue's own event shape; `idempotency_key` is what the orchestrator's broker adds to
every envelope it publishes; `hosts`, `module_name` and `title` are the subject of the
nmap wrapper's, the metasploit wrapper's and a finding's document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from vectorvue_client.domain.errors import VectorVueSerializationError


class Shape(StrEnum):
    """The kinds of document SpectraStrike emits (and VectorVue's own event shape)."""

    BROKER_ENVELOPE = "broker_envelope"
    INTERNAL_EVENT = "internal_event"
    CLOUDEVENT = "cloudevent"
    NMAP_RESULT = "nmap_result"
    METASPLOIT_RESULT = "metasploit_result"
    FINDING = "finding"
    INTEGRATION_EVENT = "integration_event"


@dataclass(frozen=True, slots=True)
class DetectionRule:
    """One row of the detection table: the keys a shape must have and must not have."""

    shape: Shape
    all_of: frozenset[str]
    none_of: frozenset[str]

    def matches(self, keys: frozenset[str]) -> bool:
        """True when a document with these top-level keys is of this rule's shape."""
        return self.all_of <= keys and not self.none_of & keys

    def describe(self) -> str:
        """The rule in words, for error messages."""
        text = f"{self.shape.value} (has {', '.join(sorted(self.all_of))}"
        if self.none_of:
            text += f"; not {', '.join(sorted(self.none_of))}"
        return text + ")"


def _rule(shape: Shape, all_of: str, none_of: str = "") -> DetectionRule:
    return DetectionRule(shape, frozenset(all_of.split()), frozenset(none_of.split()))


DETECTION_RULES: Final[tuple[DetectionRule, ...]] = (
    _rule(Shape.CLOUDEVENT, "specversion"),
    _rule(Shape.INTEGRATION_EVENT, "source_system event_type", "specversion"),
    _rule(Shape.BROKER_ENVELOPE, "event_type idempotency_key", "specversion source_system"),
    _rule(Shape.INTERNAL_EVENT, "event_type", "specversion source_system idempotency_key"),
    _rule(Shape.NMAP_RESULT, "hosts", "specversion event_type module_name title"),
    _rule(Shape.METASPLOIT_RESULT, "module_name", "specversion event_type hosts title"),
    _rule(Shape.FINDING, "title", "specversion event_type hosts module_name"),
)

_SHOWN_KEYS: Final = 20
_SHOWN_KEY_LEN: Final = 40


# Every key the table names (a rule looks at no other).
_NAMED_KEYS: Final[frozenset[str]] = frozenset(
    key for rule in DETECTION_RULES for key in rule.all_of | rule.none_of
)


def _decisions() -> dict[frozenset[str], Shape]:
    # The shape of a document follows from which of the named keys it has: every such
    # combination, decided once by the table itself (those that match no row, or several,
    # are left out, for detect_shape to explain).
    named = sorted(_NAMED_KEYS)
    out: dict[frozenset[str], Shape] = {}
    for bits in range(1 << len(named)):
        present = frozenset(k for i, k in enumerate(named) if bits >> i & 1)
        found = [rule.shape for rule in DETECTION_RULES if rule.matches(present)]
        if len(found) == 1:
            out[present] = found[0]
    return out


_DECISIONS: Final = _decisions()


def detect_shape(document: Mapping[str, Any]) -> Shape:
    """The shape of `document`, by the table in this module's docstring.

    A document matching no row (or, were the table ever broken, several) is refused with a
    VectorVueSerializationError naming "(document)", listing every shape and its keys.
    """
    if type(document) is dict:
        named = document.keys() & _NAMED_KEYS
        decided = _DECISIONS.get(frozenset(named))
        for key in named:
            if type(key) is not str:  # equal to a name without being a str: the table decides
                decided = None
        if decided is not None:
            return decided
    if not isinstance(document, Mapping):
        raise VectorVueSerializationError.single(
            "(document)", f"must be a JSON object (a dict), not {type(document).__name__}"
        )
    keys = frozenset(k for k in document if isinstance(k, str))
    found = [rule.shape for rule in DETECTION_RULES if rule.matches(keys)]
    if len(found) == 1:
        return found[0]
    what = (
        "matches no known shape"
        if not found
        else f"matches several shapes ({', '.join(s.value for s in found)})"
    )
    known = "; ".join(rule.describe() for rule in DETECTION_RULES)
    raise VectorVueSerializationError.single(
        "(document)", f"{what}; known shapes: {known}; this document's keys: {_shown(keys)}"
    )


def _shown(keys: frozenset[str]) -> str:
    # Keys only, never values, and bounded: the message ends up in logs and audit records.
    names = sorted(keys)
    shown = [repr(k if len(k) <= _SHOWN_KEY_LEN else k[:_SHOWN_KEY_LEN] + "...") for k in names]
    text = ", ".join(shown[:_SHOWN_KEYS]) or "(none)"
    if len(names) > _SHOWN_KEYS:
        text += f" (+{len(names) - _SHOWN_KEYS} more)"
    return text
