"""Hypothesis profiles: "default" locally, "ci" in CI (HYPOTHESIS_PROFILE=ci, set by .ci/run).

No per-example deadline in either: these machines are shared, and a slow example is not a
failing one (speed is measured in bench/, never asserted in a test).
"""

import os

from hypothesis import HealthCheck, settings

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
