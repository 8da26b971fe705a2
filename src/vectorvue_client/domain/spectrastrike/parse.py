"""parse_output: any SpectraStrike document -> the events and findings it holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.models import IntegrationFinding
from vectorvue_client.domain.normalize import normalize_finding
from vectorvue_client.domain.spectrastrike.cloudevents import from_cloudevent
from vectorvue_client.domain.spectrastrike.envelope import from_telemetry
from vectorvue_client.domain.spectrastrike.integration import from_integration_event
from vectorvue_client.domain.spectrastrike.metasploit import from_metasploit
from vectorvue_client.domain.spectrastrike.nmap import from_nmap
from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions
from vectorvue_client.domain.spectrastrike.shapes import Shape, detect_shape

Item = CanonicalEvent | IntegrationFinding
_Parser = Callable[[Mapping[str, Any], SpectraStrikeOptions], list[Item]]

_PARSERS: Final[Mapping[Shape, _Parser]] = {
    Shape.BROKER_ENVELOPE: lambda d, o: list(from_telemetry(d, o, envelope=True)),
    Shape.INTERNAL_EVENT: lambda d, o: list(from_telemetry(d, o, envelope=False)),
    Shape.CLOUDEVENT: lambda d, o: list(from_cloudevent(d, o)),
    Shape.NMAP_RESULT: lambda d, o: list(from_nmap(d, o)),
    Shape.METASPLOIT_RESULT: lambda d, o: list(from_metasploit(d, o)),
    Shape.FINDING: lambda d, o: [normalize_finding(d)],
    Shape.INTEGRATION_EVENT: lambda d, o: list(from_integration_event(d)),
}


DEFAULT_OPTIONS: Final = SpectraStrikeOptions()


def parse_output(
    document: Mapping[str, Any], options: SpectraStrikeOptions = DEFAULT_OPTIONS
) -> list[CanonicalEvent | IntegrationFinding]:
    """Every event (and, for a finding document, the finding) that `document` holds.

    The shape is detected by `detect_shape`; each shape's mapping rules are in the
    docstring of its module (envelope, cloudevents, nmap, metasploit, integration), the
    shared ones in `assembly`. Findings go through `normalize_finding` unchanged. Every
    broken rule of the document is reported at once, as a VectorVueSerializationError
    whose problems name the input's field (dotted path) and the rule. Pure: the same
    document always gives the same items, whatever its key order.
    """
    return _PARSERS[detect_shape(document)](document, options)
