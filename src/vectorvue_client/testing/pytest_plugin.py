"""A pytest plugin with LocalVectorVue fixtures, for the tests of code that embeds the client.

Enable it in the conftest.py at the root of your tests (pytest reads `pytest_plugins` only
there):

    pytest_plugins = ["vectorvue_client.testing.pytest_plugin"]

    def test_findings_arrive_once(local_vectorvue):
        client = build_my_client(base_url=local_vectorvue.url,
                                 ca_bundle=local_vectorvue.ca_pem_path,
                                 api_key=local_vectorvue.api_token)
        ...
        assert local_vectorvue.receipts("finding-1") == 1

Both fixtures are function-scoped: every test gets a fresh server (it starts in tens of
milliseconds), so no state leaks between tests. Needs the `testing` extra (trustme).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vectorvue_client.testing.receiver import LocalVectorVue

__all__ = ["local_vectorvue", "local_vectorvue_factory"]

type LocalVectorVueFactory = Callable[..., LocalVectorVue]


@pytest.fixture
def local_vectorvue() -> Iterator[LocalVectorVue]:
    """A started LocalVectorVue with a random bearer token (`local_vectorvue.api_token`)
    and default options; stopped after the test."""
    with LocalVectorVue(api_token=secrets.token_urlsafe(24)) as vv:
        yield vv


@pytest.fixture
def local_vectorvue_factory() -> Iterator[LocalVectorVueFactory]:
    """Starts LocalVectorVues with the given keyword options (those of LocalVectorVue; a
    random `api_token` unless one is given) and stops them all after the test."""
    started: list[LocalVectorVue] = []

    def start(**options: Any) -> LocalVectorVue:
        options.setdefault("api_token", secrets.token_urlsafe(24))
        vv = LocalVectorVue(**options).start()
        started.append(vv)
        return vv

    yield start
    for vv in reversed(started):
        vv.stop()
