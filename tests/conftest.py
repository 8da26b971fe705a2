"""Hypothesis profiles: "default" locally, "ci" in CI (HYPOTHESIS_PROFILE=ci, set by .ci/run).

No per-example deadline in either: these machines are shared, and a slow example is not a
failing one (speed is measured in bench/, never asserted in a test).

Every test starts with no known secret (the registry of domain.redaction is process-wide):
a value an earlier test registered would otherwise mask text in a later one, and a test of
masking would pass on a value that its own code path never registered.
"""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from vectorvue_client.domain.redaction import forget_known_secrets

# The LocalVectorVue fixtures, enabled exactly as an embedder enables them.
pytest_plugins = ["vectorvue_client.testing.pytest_plugin"]

settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# derandomize: CI explores the same examples on every run, so a red CI is always
# reproducible and never a coin toss; local runs keep exploring new ones.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _no_known_secrets() -> Iterator[None]:
    """Each test starts, and leaves, with an empty registry of known secrets."""
    forget_known_secrets()
    yield
    forget_known_secrets()
