"""Fixtures of the integration tests: a real LocalVectorVue over HTTPS on 127.0.0.1.

`local_vectorvue` and `local_vectorvue_factory` come from the plugin that tests/conftest.py
enables, as an embedder's conftest would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.testing.receiver import LocalVectorVue

API_TOKEN = "vv-test-token-7f3a9c1e5b"


@pytest.fixture
def api_token() -> str:
    """The bearer token LocalVectorVue accepts."""
    return API_TOKEN


@pytest.fixture
def vectorvue(api_token: str) -> Iterator[LocalVectorVue]:
    """A started LocalVectorVue, one per test (it starts in tens of milliseconds)."""
    with LocalVectorVue(api_token=api_token) as vv:
        yield vv


@pytest.fixture
def transport(vectorvue: LocalVectorVue) -> Iterator[RequestsTransport]:
    """A RequestsTransport that trusts the receiver's CA; closed after the test."""
    t = RequestsTransport(vectorvue.url, verify=vectorvue.ca_pem_path)
    yield t
    t.close()
