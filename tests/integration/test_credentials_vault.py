"""VaultCredentialSource against FakeVault: real HTTPS on 127.0.0.1, hvac unmocked.

What these prove and what not is in ADR 0008: the requests hvac makes, and what the
source makes of Vault's documented answers; not that a real Vault answers exactly so.
"""

from __future__ import annotations

import json
import socket
import string
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.vault_fake import FakeVault
from vectorvue_client.adapters.credentials_vault import (
    VaultAppRole,
    VaultCredentialSource,
    VaultToken,
)
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.testing import FakeCredentialSource

VALUE = "vvk_from-vault-0123456789"
ROLE_ID = "5f1c2d3e-role-0000-aaaa-0123456789ab"
SECRET_ID = "9a8b7c6d-secret-id-1111-fedcba987654"
FIELD = "api_key_vault"


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    """A started FakeVault holding secret/vectorvue = {"api_key": VALUE} and one AppRole."""
    with FakeVault() as fake:
        fake.secrets[("secret", "vectorvue")] = {"api_key": VALUE, "other": "x"}
        fake.approles[ROLE_ID] = SECRET_ID
        yield fake


def make(
    vault: FakeVault,
    auth: VaultToken | VaultAppRole | None = None,
    *,
    path: str = "vectorvue",
    key: str = "api_key",
    ca_bundle: str | None = "fake",
    url: str | None = None,
) -> VaultCredentialSource:
    """A source reading secret/<path>#<key>, by default with a valid token."""
    if auth is None:
        auth = VaultToken(FakeCredentialSource(vault.issue_token()))
    return VaultCredentialSource(
        url or vault.url,
        mount="secret",
        path=path,
        key=key,
        auth=auth,
        ca_bundle=vault.ca_pem_path if ca_bundle == "fake" else ca_bundle,
        timeout_seconds=2.0,
        field=FIELD,
    )


def approle(secret_id: str = SECRET_ID) -> VaultAppRole:
    """AppRole auth with the fake's role_id and `secret_id`."""
    return VaultAppRole(FakeCredentialSource(ROLE_ID), FakeCredentialSource(secret_id))


def rule_of(source: VaultCredentialSource) -> str:
    """The rule of the VectorVueConfigError that `get` raises, checked to name FIELD."""
    with pytest.raises(VectorVueConfigError) as caught:
        source.get()
    assert caught.value.field == FIELD
    return caught.value.rule


# -- token auth -------------------------------------------------------------------------------
def test_a_token_reads_the_key_as_a_secret(vault: FakeVault) -> None:
    """One KV v2 GET with X-Vault-Token (and hvac's X-Vault-Request), the value as a Secret."""
    token = vault.issue_token()
    secret = make(vault, VaultToken(FakeCredentialSource(token))).get()
    assert isinstance(secret, Secret) and secret.reveal() == VALUE
    [seen] = vault.requests
    assert (seen.method, seen.path) == ("GET", "/v1/secret/data/vectorvue")
    assert seen.headers["x-vault-token"] == token and seen.headers["x-vault-request"] == "true"


def test_the_token_is_read_from_its_source_at_every_get(vault: FakeVault) -> None:
    """A rotated token (a re-mounted token file) is used at the next get."""
    first = vault.issue_token()
    tokens = FakeCredentialSource(first)
    source = make(vault, VaultToken(tokens))
    source.get()
    vault.tokens.discard(first)
    tokens.rotate(new := vault.issue_token())
    assert source.get().reveal() == VALUE
    assert vault.requests[-1].headers["x-vault-token"] == new


def test_a_refused_token_is_an_error_naming_the_policy_path(vault: FakeVault) -> None:
    """403: the rule says the token is invalid/expired or lacks read on mount/data/path."""
    rule = rule_of(make(vault, VaultToken(FakeCredentialSource("hvs.not-a-valid-token"))))
    assert "permission denied" in rule and "secret/data/vectorvue" in rule
    assert vault.reads == 1


def test_a_missing_token_is_an_error_naming_the_field(vault: FakeVault) -> None:
    """The token's own source failing is reported on FIELD, quoting that source's reason."""
    rule = rule_of(make(vault, VaultToken(FakeCredentialSource(None, field="vault_token"))))
    assert "the Vault token is not available" in rule and "vault_token" in rule
    assert vault.requests == []


# -- AppRole ----------------------------------------------------------------------------------
def test_approle_logs_in_once_and_keeps_the_token(vault: FakeVault) -> None:
    """Login POSTs role_id and secret_id with no token header; the token is kept."""
    source = make(vault, approle())
    assert source.get().reveal() == VALUE and source.get().reveal() == VALUE
    assert (vault.logins, vault.reads) == (1, 2)
    login = vault.requests[0]
    assert (login.method, login.path) == ("POST", "/v1/auth/approle/login")
    assert "x-vault-token" not in login.headers
    issued = vault.requests[1].headers["x-vault-token"]
    assert issued in vault.tokens and vault.requests[2].headers["x-vault-token"] == issued


def test_approle_logs_in_again_once_when_the_token_is_revoked(vault: FakeVault) -> None:
    """403 on a kept token: one new login, then the read succeeds."""
    source = make(vault, approle())
    source.get()
    vault.revoke_tokens()
    assert source.get().reveal() == VALUE
    assert (vault.logins, vault.reads) == (2, 3)
    logins = [seen for seen in vault.requests if seen.method == "POST"]
    assert len(logins) == 2 and all("x-vault-token" not in seen.headers for seen in logins)


def test_a_token_refused_right_after_login_is_an_error_not_a_loop(vault: FakeVault) -> None:
    """A fresh token refused: no second login. A kept one refused twice: one re-login only."""
    vault.deny_reads = True
    source = make(vault, approle())
    assert "an AppRole login had just given" in rule_of(source)
    assert (vault.logins, vault.reads) == (1, 1)
    assert "an AppRole login had just given" in rule_of(source)  # kept token, re-login, refused
    assert (vault.logins, vault.reads) == (2, 3)


def test_a_refused_approle_login_says_what_to_check(vault: FakeVault) -> None:
    """400 from login: check role_id and secret_id; nothing read."""
    rule = rule_of(make(vault, approle("wrong-secret-id-000")))
    assert "AppRole login" in rule and "secret_id" in rule
    assert (vault.logins, vault.reads) == (1, 0)


# -- what the secret looks like ---------------------------------------------------------------
def test_a_missing_path_is_a_404_naming_mount_and_path(vault: FakeVault) -> None:
    """No secret: the rule names secret/<path> and says to check mount, path and KV v2."""
    rule = rule_of(make(vault, path="nothing-here"))
    assert "no secret at secret/nothing-here" in rule and "KV version 2" in rule


def test_a_missing_key_lists_the_key_names_not_values(vault: FakeVault) -> None:
    """The rule names the missing key and the keys there are, never their values."""
    rule = rule_of(make(vault, key="apikey"))
    assert "no key 'apikey'" in rule and "api_key, other" in rule
    assert VALUE not in rule


def test_a_deleted_version_says_so(vault: FakeVault) -> None:
    """Vault's 404 with deletion_time set is told apart from a missing path."""
    vault.deleted.add(("secret", "rotated"))
    assert "version 2 of the secret at secret/rotated is deleted" in rule_of(
        make(vault, path="rotated")
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (12345, "number"),
        (True, "boolean"),
        (None, "null"),
        ([VALUE], "array"),
        ({"k": VALUE}, "object"),
    ],
)
def test_a_non_string_value_is_refused_without_quoting_it(
    vault: FakeVault, value: object, kind: str
) -> None:
    """Only a JSON string is a credential; the rule names the JSON kind, not the value."""
    vault.secrets[("secret", "vectorvue")] = {"api_key": value}
    rule = rule_of(make(vault))
    assert f"holds a JSON {kind}, not a string" in rule and VALUE not in rule


def test_an_empty_value_is_refused(vault: FakeVault) -> None:
    """A blank string is a misconfiguration, not a credential."""
    vault.secrets[("secret", "vectorvue")] = {"api_key": "  "}
    assert "is empty" in rule_of(make(vault))


# -- TLS, environment, redirects --------------------------------------------------------------
def test_an_untrusted_certificate_is_a_tls_error_naming_the_ca_setting(vault: FakeVault) -> None:
    """Without the fake's CA the handshake fails; no HTTP request (so no token) went out."""
    rule = rule_of(make(vault, ca_bundle=None))
    assert "TLS with Vault" in rule and "vault_ca_bundle" in rule
    assert vault.requests == []


def test_requests_ca_bundle_from_the_environment_is_not_trusted(
    vault: FakeVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE naming the fake's CA would make plain requests trust it; the source
    (ca_bundle=None: the system store) must not."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vault.ca_pem_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", vault.ca_pem_path)
    assert requests.get(vault.url + "/v1/sys/health", timeout=5).status_code == 404  # control
    vault.requests.clear()
    assert "TLS with Vault" in rule_of(make(vault, ca_bundle=None))
    assert vault.requests == []


def test_proxies_and_vault_variables_from_the_environment_do_not_apply(
    vault: FakeVault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTPS_PROXY (to a dead port) is not used; VAULT_TOKEN and ~/.vault-token (valid
    tokens) do not replace the configured, invalid one."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("VAULT_TOKEN", vault.issue_token())
    (tmp_path / ".vault-token").write_text(vault.issue_token())
    monkeypatch.setenv("HOME", str(tmp_path))
    assert make(vault).get().reveal() == VALUE  # through no proxy
    assert "permission denied" in rule_of(
        make(vault, VaultToken(FakeCredentialSource("hvs.configured-but-wrong")))
    )


def test_a_redirect_is_refused_and_the_token_goes_nowhere_else(vault: FakeVault) -> None:
    """A 307 (a standby's answer) is not followed: the target never sees a request."""
    with FakeVault(ca=vault.ca) as elsewhere:
        token = vault.issue_token()
        elsewhere.tokens.add(token)
        elsewhere.secrets[("secret", "vectorvue")] = {"api_key": "from-elsewhere"}
        vault.redirect_to = elsewhere.url
        rule = rule_of(make(vault, VaultToken(FakeCredentialSource(token))))
        assert "HTTP 307" in rule and "never followed" in rule
        assert elsewhere.requests == []


def test_http_urls_are_refused_at_construction(vault: FakeVault) -> None:
    """Plain HTTP would send the token in clear: field vault_url; userinfo is not quoted."""
    for url in ("http://127.0.0.1:8200", "https://user:pw-secret@vault.example"):
        with pytest.raises(VectorVueConfigError) as caught:
            make(vault, url=url)
        assert caught.value.field == "vault_url" and "pw-secret" not in str(caught.value)


def test_no_listener_is_a_connection_error(vault: FakeVault) -> None:
    """A closed port: "no connection", naming the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "no connection to Vault" in rule_of(make(vault, url=f"https://127.0.0.1:{port}"))


def test_a_silent_server_is_a_timeout_naming_the_setting(vault: FakeVault) -> None:
    """A listener that never answers the handshake: the timeout, not a hang."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        source = VaultCredentialSource(
            url, mount="secret", path="p", key="k", auth=approle(), timeout_seconds=0.2
        )
        with pytest.raises(VectorVueConfigError, match=r"did not answer within 0\.2 s"):
            source.get()


# -- no secret in any message -----------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_vault() -> Iterator[FakeVault]:
    """One FakeVault for every example of the property (each example resets its state)."""
    with FakeVault() as fake:
        yield fake


# Fixed prefixes keep a generated secret from being all "^" or spaces, which a formatted
# traceback holds anyway.
_TOKENISH = st.text(string.ascii_letters + string.digits + "-_.", min_size=8, max_size=40)
_SCENARIOS = ["bad_token", "bad_secret_id", "denied", "non_string", "missing_key", "redirect"]


@settings(max_examples=60)
@given(
    token=_TOKENISH.map(lambda s: "hvs." + s),
    secret_id=_TOKENISH.map(lambda s: "sid-" + s),
    value=st.text(min_size=8, max_size=40).map(lambda s: "vvk-" + s),
    scenario=st.sampled_from(_SCENARIOS),
)
def test_no_error_ever_holds_the_token_secret_id_or_value(
    shared_vault: FakeVault, token: str, secret_id: str, value: str, scenario: str
) -> None:
    """Whatever fails (and with a server that echoes credentials into its error bodies and
    Location), the error's str, repr, rule and formatted traceback hold none of them."""
    vault = shared_vault
    vault.tokens, vault.approles, vault.requests = set(), {ROLE_ID: secret_id}, []
    vault.deny_reads, vault.redirect_to, vault.echo_in_errors = False, None, True
    data: dict[str, Any] = {"api_key": value}
    auth: VaultToken | VaultAppRole = VaultToken(FakeCredentialSource(token))
    if scenario != "bad_token":
        vault.tokens.add(token)
    if scenario == "bad_secret_id":
        auth = VaultAppRole(FakeCredentialSource(ROLE_ID), FakeCredentialSource(secret_id + "x"))
    elif scenario == "denied":
        vault.deny_reads, auth = True, approle(secret_id)
    elif scenario == "non_string":
        data = {"api_key": [value, {"nested": value}]}
    elif scenario == "missing_key":
        data = {"apikey": value}
    elif scenario == "redirect":
        vault.redirect_to = f"https://{token}@elsewhere.invalid/{token}"
    vault.secrets = {("secret", "vectorvue"): data}
    with pytest.raises(VectorVueConfigError) as caught:
        make(vault, auth).get()
    exc = caught.value
    texts = [str(exc), repr(exc), exc.rule, "".join(traceback.format_exception(exc))]
    for secret in (token, secret_id, value, json.dumps(value)[1:-1], *vault.tokens):
        assert not any(secret in text for text in texts), (scenario, exc)
