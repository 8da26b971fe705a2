"""SpectraStrike's outputs -> CanonicalEvents (and IntegrationFindings), purely.

    parse_output(document, options) -> [CanonicalEvent | IntegrationFinding, ...]
    detect_shape(document) -> Shape

Shapes read: the orchestrator's internal telemetry event and broker envelope
(`envelope`), CloudEvents 1.0 structured JSON (`cloudevents`), the nmap wrapper's scan
result (`nmap`: one event per host), the metasploit wrapper's module result (`metasploit`:
one event for the run and one per session), findings (`normalize_finding`) and VectorVue's
own event shape (`integration`). The rules shared by all of them (lifted fields, the
asset_ref rule, tool, event ids, messages) are in `assembly`; detection is in `shapes`.

Nothing is invented: an event's time is always the input's own (refused by name when
absent), its id the input's own or a hash of its content, and a field the input does not
carry is None. Nothing here does I/O or reads a clock.
"""

from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions
from vectorvue_client.domain.spectrastrike.parse import parse_output
from vectorvue_client.domain.spectrastrike.shapes import Shape, detect_shape

__all__ = ["Shape", "SpectraStrikeOptions", "detect_shape", "parse_output"]
