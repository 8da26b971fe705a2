"""VectorVueConfig: every bad value is refused at construction, naming the field and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from vectorvue_client import VectorVueConfig, VectorVueConfigError
from vectorvue_client.config import SECRET_VARIABLE_SETTINGS, proxy_from_environment, resolve

URL = "https://vectorvue.example"
PIN = "ab" * 32


def test_defaults_are_the_secure_ones() -> None:
    """TLS verification on, integration API, bounded retries and batches."""
    config = VectorVueConfig(base_url=URL)
    assert config.verify_tls is True
    assert config.profile == "integration-api"
    assert config.max_retries == 3
    assert config.batch_size == 250
    assert config.pinned_cert_sha256 == ()
    assert config.pool_max_idle_seconds < 5.0  # below uvicorn's keep-alive (the contract's)


def test_the_config_is_frozen() -> None:
    """A config cannot be changed after validation."""
    config = VectorVueConfig(base_url=URL)
    with pytest.raises(AttributeError):
        config.base_url = "http://downgrade.example"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"base_url": "http://vectorvue.example"}, "base_url", "https"),
        ({"base_url": "ftp://vectorvue.example"}, "base_url", "https"),
        ({"base_url": "vectorvue.example"}, "base_url", "https"),
        ({"base_url": "https://"}, "base_url", "no host"),
        ({"base_url": "https://user:pw@vectorvue.example"}, "base_url", "credentials"),
        ({"base_url": "https://vectorvue.example/?x=1"}, "base_url", "query"),
        ({"base_url": "https://vectorvue.example:99999"}, "base_url", "not a valid URL"),
        ({"base_url": ""}, "base_url", "non-empty"),
        ({"base_url": None}, "base_url", "Expected `str`"),
        ({"timeout_seconds": 0}, "timeout_seconds", "> 0"),
        ({"timeout_seconds": -1.5}, "timeout_seconds", "> 0"),
        ({"timeout_seconds": float("nan")}, "timeout_seconds", "> 0"),
        ({"timeout_seconds": float("inf")}, "timeout_seconds", "finite"),
        ({"timeout_seconds": "10"}, "timeout_seconds", "got `str`"),
        ({"timeout_seconds": True}, "timeout_seconds", "got `bool`"),
        ({"deadline_seconds": 0}, "deadline_seconds", "> 0"),
        ({"credential_ttl_seconds": float("inf")}, "credential_ttl_seconds", "finite"),
        ({"vault_timeout_seconds": 0}, "vault_timeout_seconds", "> 0"),
        ({"pool_max_idle_seconds": 0}, "pool_max_idle_seconds", "> 0"),
        ({"pool_max_idle_seconds": -4.0}, "pool_max_idle_seconds", "> 0"),
        ({"pool_max_idle_seconds": float("inf")}, "pool_max_idle_seconds", "finite"),
        ({"pool_max_idle_seconds": float("nan")}, "pool_max_idle_seconds", "> 0"),
        ({"backoff_max_seconds": float("inf")}, "backoff_max_seconds", "finite"),
        ({"outbox_backoff_base_seconds": 0}, "outbox_backoff_base_seconds", "> 0"),
        ({"outbox_backoff_max_seconds": -1}, "outbox_backoff_max_seconds", "> 0"),
        ({"worker_interval_seconds": 0}, "worker_interval_seconds", "> 0"),
        ({"max_retries": -1}, "max_retries", ">= 0"),
        ({"max_retries": 101}, "max_retries", "<= 100"),
        ({"max_retries": True}, "max_retries", "Expected `int`"),
        ({"max_retries": 2.5}, "max_retries", "Expected `int`"),
        ({"batch_size": 0}, "batch_size", ">= 1"),
        ({"batch_size": 1001}, "batch_size", "<= 1000"),
        ({"max_batch_bytes": 10}, "max_batch_bytes", ">= 1024"),
        ({"max_batch_bytes": 1_048_577}, "max_batch_bytes", "<= 1048576"),
        ({"pool_size": 0}, "pool_size", ">= 1"),
        ({"pool_size": 1001}, "pool_size", "<= 1000"),
        ({"session_output_cap": -1}, "session_output_cap", ">= 0"),
        ({"session_output_cap": 4097}, "session_output_cap", "<= 4096"),
        ({"gateway_rate_per_minute": 0}, "gateway_rate_per_minute", ">= 1"),
        ({"gateway_rate_per_minute": 100_001}, "gateway_rate_per_minute", "<= 100000"),
        ({"outbox_max_attempts": 0}, "outbox_max_attempts", ">= 1"),
        ({"outbox_max_attempts": 1_000_001}, "outbox_max_attempts", "<= 1000000"),
        ({"pinned_cert_sha256": ("ab" * 31,)}, "pinned_cert_sha256[0]", "{64}"),
        ({"pinned_cert_sha256": (PIN, "zz" * 32)}, "pinned_cert_sha256[1]", "[0-9a-fA-F]"),
        ({"pinned_cert_sha256": ("AB:" * 31 + "AB",)}, "pinned_cert_sha256[0]", "[0-9a-fA-F]"),
        ({"pinned_cert_sha256": (PIN + "\n",)}, "pinned_cert_sha256[0]", "[0-9a-fA-F]"),
        ({"pinned_cert_sha256": PIN}, "pinned_cert_sha256", "Expected `array`"),
        ({"tenant_id": "not-a-uuid"}, "tenant_id", "[0-9a-fA-F]{8}-"),
        ({"login_tenant_id": "x"}, "login_tenant_id", "[0-9a-fA-F]{8}-"),
        ({"attestation_measurement_hash": "ab"}, "attestation_measurement_hash", "{64}"),
        ({"source_system": "spectra strike"}, "source_system", "[A-Za-z0-9._:-]"),
        ({"source_system": "s" * 65}, "source_system", "length <= 64"),
        ({"operator_id": ""}, "operator_id", "length >= 1"),
        ({"campaign_id": "c" * 129}, "campaign_id", "length <= 128"),
        ({"login_username": "  "}, "login_username", "\\S"),
        ({"vault_mount": ""}, "vault_mount", "\\S"),
        ({"api_key_file": ""}, "api_key_file", "length >= 1"),
        ({"outbox_path": ""}, "outbox_path", "length >= 1"),
        ({"http_backend": "httpx"}, "http_backend", "urllib3, requests"),
        ({"gateway_schema_version": " \t"}, "gateway_schema_version", "\\S"),
        ({"gateway_schema_version": "1" * 33}, "gateway_schema_version", "length <= 32"),
        ({"outbox_synchronous": "off"}, "outbox_synchronous", "full, normal"),
        ({"client_cert": "/etc/client.pem"}, "client_cert", "client_key"),
        ({"client_key": "/etc/client.key"}, "client_key", "without client_cert"),
        ({"profile": "grpc"}, "profile", "integration-api, telemetry-gateway"),
        ({"api_key_env": "NOT A NAME"}, "api_key_env", "[A-Za-z_][A-Za-z0-9_]*"),
        ({"signing_secret_env": ""}, "signing_secret_env", "[A-Za-z_][A-Za-z0-9_]*"),
        ({"vault_token_env": "VAULT_TOKEN\n"}, "vault_token_env", "[A-Za-z_][A-Za-z0-9_]*"),
        ({"verify_tls": "yes"}, "verify_tls", "Expected `bool`"),
        (
            {"backoff_base_seconds": 5.0, "backoff_max_seconds": 1.0},
            "backoff_base_seconds",
            "exceed",
        ),
    ],
)
def test_bad_values_name_the_field_and_the_rule(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    """Each invalid setting raises VectorVueConfigError with .field and a rule that says why."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(**{"base_url": URL, **overrides})
    assert caught.value.field == field
    assert words in caught.value.rule
    assert str(caught.value).startswith(f"{field}: ")


def test_credentials_in_the_url_never_reach_the_message() -> None:
    """The rejected URL's password does not appear in the error."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(base_url="https://admin:hunter2-secret@vectorvue.example")
    assert "hunter2-secret" not in str(caught.value)
    assert "hunter2-secret" not in repr(caught.value)


def test_several_pins_are_allowed_and_lower_cased() -> None:
    """Pins for a rotation: two fingerprints, compared case-insensitively."""
    config = VectorVueConfig(base_url=URL, pinned_cert_sha256=(PIN.upper(), "cd" * 32))
    assert config.pinned_cert_sha256 == (PIN, "cd" * 32)


def test_from_env_reads_prefixed_variables_with_types() -> None:
    """VECTORVUE_* strings become typed fields; pins are comma-separated."""
    env = {
        "VECTORVUE_BASE_URL": URL,
        "VECTORVUE_TIMEOUT_SECONDS": "2.5",
        "VECTORVUE_MAX_RETRIES": "5",
        "VECTORVUE_VERIFY_TLS": "true",
        "VECTORVUE_PINNED_CERT_SHA256": f"{PIN}, {'cd' * 32}",
        "VECTORVUE_PROFILE": "telemetry-gateway",
        "VECTORVUE_CLIENT_CERT": "/etc/vv/client.pem",
        "VECTORVUE_CLIENT_KEY": "/etc/vv/client.key",
        "VECTORVUE_SERVICE_IDENTITY": "spectrastrike-producer",
        "VECTORVUE_SIGNING_KEY_FILE": "/etc/vv/ed25519.pem",
        "VECTORVUE_CREDENTIAL_SOURCES": "file, env",
        "VECTORVUE_API_KEY_FILE": "/run/secrets/vv",
        "VECTORVUE_PROXY_FROM_ENV": "yes",
        "UNRELATED": "x",
    }
    config = VectorVueConfig.from_env(environ=env)
    assert config.timeout_seconds == 2.5
    assert config.max_retries == 5
    assert config.pinned_cert_sha256 == (PIN, "cd" * 32)
    assert config.profile == "telemetry-gateway"
    assert config.credential_sources == ("file", "env")
    assert config.proxy_from_env is True


def test_from_env_honours_another_prefix() -> None:
    """A prefix lets two clients live in one environment."""
    config = VectorVueConfig.from_env("VV2_", environ={"VV2_BASE_URL": URL, "VV2_BATCH_SIZE": "10"})
    assert config.batch_size == 10


@pytest.mark.parametrize(
    ("env", "field", "words"),
    [
        ({}, "base_url", "VECTORVUE_BASE_URL"),
        (
            {"VECTORVUE_BASE_URL": URL, "VECTORVUE_MAX_RETRIES": "three"},
            "max_retries",
            "VECTORVUE_MAX_RETRIES",
        ),
        ({"VECTORVUE_BASE_URL": URL, "VECTORVUE_VERIFY_TLS": "maybe"}, "verify_tls", "bool"),
        (
            {"VECTORVUE_BASE_URL": URL, "VECTORVUE_BATCH_SIZE": "5000"},
            "batch_size",
            "(from env:VECTORVUE_BATCH_SIZE)",
        ),
        ({"VECTORVUE_BASE_URL": "http://x.example"}, "base_url", "https"),
    ],
)
def test_from_env_errors_name_the_variable(env: dict[str, str], field: str, words: str) -> None:
    """A bad or missing variable names the field and the variable."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_env(environ=env)
    assert caught.value.field == field
    assert words in caught.value.rule


def test_from_toml_reads_a_vectorvue_table(tmp_path: Path) -> None:
    """A [vectorvue] table, with a list of pins."""
    path = tmp_path / "vv.toml"
    path.write_text(
        f'[vectorvue]\nbase_url = "{URL}"\nbatch_size = 100\npinned_cert_sha256 = ["{PIN}"]\n'
    )
    config = VectorVueConfig.from_toml(path)
    assert config.batch_size == 100
    assert config.pinned_cert_sha256 == (PIN,)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (f'base_url = "{URL}"\nbatch_sise = 3\n', "batch_sise"),
        ("batch_size = 3\n", "base_url"),
        (f'base_url = "{URL}"\ntimeout_seconds = "ten"\n', "timeout_seconds"),
        ("base_url = [", "config file"),
    ],
)
def test_from_toml_errors_name_the_setting(tmp_path: Path, text: str, field: str) -> None:
    """Typos, missing keys, wrong types and broken TOML are config errors naming the key."""
    path = tmp_path / "vv.toml"
    path.write_text(text)
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_toml(path)
    assert caught.value.field == field


def test_from_toml_missing_file(tmp_path: Path) -> None:
    """An unreadable file is a config error, not an OSError."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_toml(tmp_path / "absent.toml")
    assert caught.value.field == "config file"


GATEWAY: dict[str, Any] = {
    "profile": "telemetry-gateway",
    "client_cert": "/etc/vv/client.pem",
    "client_key": "/etc/vv/client.key",
    "service_identity": "spectrastrike-producer",
    "signing_key_file": "/etc/vv/ed25519.pem",
}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({**GATEWAY, "client_cert": None, "client_key": None}, "client_cert", "mutual TLS"),
        ({**GATEWAY, "service_identity": None}, "service_identity", "X-Service-Identity"),
        ({**GATEWAY, "signing_key_file": None}, "signing_key_file", "exactly one"),
        ({**GATEWAY, "signing_key_env": "VV_KEY"}, "signing_key_file", "exactly one"),
        ({**GATEWAY, "service_identity": "bad identity"}, "service_identity", "[A-Za-z0-9._:-]"),
        ({"credential_sources": ("file",)}, "api_key_file", "required"),
        (
            {"credential_sources": ("vault",), "vault_url": "https://vault.example"},
            "vault_path",
            "required",
        ),
        ({"credential_sources": ("vault",), "vault_path": "vv"}, "vault_url", "required"),
        ({"credential_sources": ()}, "credential_sources", "length >= 1"),
        ({"credential_sources": ("env", "env")}, "credential_sources", "twice"),
        ({"credential_sources": ("ldap",)}, "credential_sources[0]", "env, file, vault"),
        ({"vault_url": "http://vault.example"}, "vault_url", "https"),
        ({"proxy_url": "socks5://proxy.example:1080"}, "proxy_url", "http:// or https://"),
        ({"proxy_url": "http://user:pw@proxy.example:3128"}, "proxy_url", "credentials"),
        (
            {"proxy_url": "http://proxy.example:3128", "proxy_from_env": True},
            "proxy_url",
            "not both",
        ),
        ({"connect_timeout_seconds": 0}, "connect_timeout_seconds", "> 0"),
        ({"max_response_bytes": 100}, "max_response_bytes", ">= 1024"),
        ({"audit_fsync": "sometimes"}, "audit_fsync", "always, never"),
        ({"vault_auth": "ldap"}, "vault_auth", "token, approle"),
    ],
)
def test_combinations_name_the_missing_or_conflicting_field(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    """Settings that only make sense together are checked together, at construction."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(**{"base_url": URL, **overrides})
    assert caught.value.field == field
    assert words in caught.value.rule


def test_a_complete_gateway_config_is_accepted() -> None:
    """mTLS, an identity and one signing key: the gateway profile's minimum."""
    assert VectorVueConfig(base_url=URL, **GATEWAY).profile == "telemetry-gateway"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://proxy.example:3128"}, "http://proxy.example:3128"),
        ({"https_proxy": "http://proxy.example:3128"}, "http://proxy.example:3128"),
        (
            {"HTTPS_PROXY": "http://p.example:3128", "NO_PROXY": "example.org,.vectorvue.example"},
            None,
        ),
        ({"HTTPS_PROXY": "http://p.example:3128", "NO_PROXY": "*"}, None),
        (
            {"HTTPS_PROXY": "http://p.example:3128", "NO_PROXY": "other.example"},
            "http://p.example:3128",
        ),
        ({"HTTP_PROXY": "http://p.example:3128"}, None),  # plain-HTTP proxy setting: not ours
    ],
)
def test_proxy_from_the_environment(environ: dict[str, str], expected: str | None) -> None:
    """HTTPS_PROXY (either case) unless NO_PROXY covers the VectorVue host."""
    assert proxy_from_environment(environ, "https://api.vectorvue.example") == expected


def test_a_proxy_with_credentials_in_the_environment_is_refused() -> None:
    """The environment's proxy URL obeys the same rule as proxy_url: no userinfo."""
    with pytest.raises(VectorVueConfigError) as caught:
        proxy_from_environment({"HTTPS_PROXY": "http://u:pw@p.example:3128"}, URL)
    assert caught.value.field == "HTTPS_PROXY"
    assert "pw" not in str(caught.value)


def test_a_misspelt_variable_is_refused_not_ignored() -> None:
    """VECTORVUE_PINNED_CERT_SHA (sic) would silently turn pinning off: it is an error that
    suggests the right name. Variables a setting names (the API key's) are fine."""
    env = {"VECTORVUE_BASE_URL": URL, "VECTORVUE_PINNED_CERT_SHA": PIN, "VECTORVUE_API_KEY": "k"}
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_env(environ=env)
    assert caught.value.field == "VECTORVUE_PINNED_CERT_SHA"
    assert "VECTORVUE_PINNED_CERT_SHA256" in caught.value.rule
    del env["VECTORVUE_PINNED_CERT_SHA"]
    env["VECTORVUE_API_KEY_ENV"] = "VECTORVUE_OTHER_KEY"
    env["VECTORVUE_OTHER_KEY"] = "k2"
    assert VectorVueConfig.from_env(environ=env).api_key_env == "VECTORVUE_OTHER_KEY"


def test_verify_tls_off_with_a_ca_bundle_is_contradictory() -> None:
    """Either verify against the bundle or not at all."""
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(base_url=URL, ca_bundle="/etc/ca.pem", verify_tls=False)
    assert caught.value.field == "verify_tls"


def test_the_gateway_schema_version_defaults_to_1_0_and_takes_up_to_32_characters() -> None:
    """The attributes.schema_version sent to the gateway: "1.0" unless configured."""
    assert VectorVueConfig(base_url=URL).gateway_schema_version == "1.0"
    assert (
        VectorVueConfig(base_url=URL, gateway_schema_version="2.0").gateway_schema_version == "2.0"
    )
    assert (
        len(VectorVueConfig(base_url=URL, gateway_schema_version="v" * 32).gateway_schema_version)
        == 32
    )


def test_lists_become_tuples_and_the_config_is_hashable() -> None:
    """A list given in code (or by TOML) is stored as a tuple: the config stays frozen."""
    config = VectorVueConfig(base_url=URL, pinned_cert_sha256=[PIN], credential_sources=["env"])  # type: ignore[arg-type]
    assert config.pinned_cert_sha256 == (PIN,)
    assert config.credential_sources == ("env",)
    assert hash(config) == hash(VectorVueConfig(base_url=URL, pinned_cert_sha256=(PIN,)))


def test_replace_validates_again() -> None:
    """msgspec.structs.replace builds a new config through the same rules."""
    config = VectorVueConfig(base_url=URL)
    assert msgspec.structs.replace(config, batch_size=10).batch_size == 10
    with pytest.raises(VectorVueConfigError) as caught:
        msgspec.structs.replace(config, base_url="http://downgrade.example")
    assert caught.value.field == "base_url"


def test_resolve_layers_flags_over_env_over_toml_over_default(tmp_path: Path) -> None:
    """Each value from its highest layer, and where it came from."""
    path = tmp_path / "vv.toml"
    path.write_text(f'base_url = "{URL}"\nbatch_size = 100\nmax_retries = 7\npool_size = 3\n')
    env = {"VECTORVUE_MAX_RETRIES": "5", "VECTORVUE_POOL_SIZE": "4"}
    resolved = resolve(toml_path=path, environ=env, flags={"pool_size": "5"})
    config, sources = resolved.config, resolved.sources
    assert (config.batch_size, config.max_retries, config.pool_size) == (100, 5, 5)
    assert sources["batch_size"] == f"toml:{path}"
    assert sources["max_retries"] == "env:VECTORVUE_MAX_RETRIES"
    assert sources["pool_size"] == "flag"
    assert sources["timeout_seconds"] == "default"
    assert set(sources) == set(VectorVueConfig.__struct_fields__)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"flags": {"batch_sise": "3"}}, "batch_sise", "did you mean batch_size?"),
        ({"flags": {"verify_tls": "maybe"}}, "verify_tls", "(from flag)"),
        (
            {"environ": {"VECTORVUE_BATCH_SIZE": "0"}},
            "batch_size",
            "(from env:VECTORVUE_BATCH_SIZE)",
        ),
    ],
)
def test_resolve_errors_name_the_field_and_where_it_came_from(
    kwargs: dict[str, Any], field: str, words: str
) -> None:
    """A bad flag or variable names the field, the rule, and its source."""
    kwargs = {"environ": {}, **kwargs}
    kwargs["environ"] = {"VECTORVUE_BASE_URL": URL, **kwargs["environ"]}
    with pytest.raises(VectorVueConfigError) as caught:
        resolve(**kwargs)
    assert caught.value.field == field
    assert words in caught.value.rule


def test_a_misspelt_toml_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    """A typo in the file is an error naming the key and the setting it resembles."""
    path = tmp_path / "vv.toml"
    path.write_text(f'base_url = "{URL}"\npinned_cert_sha = ["{PIN}"]\n')
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_toml(path)
    assert caught.value.field == "pinned_cert_sha"
    assert "pinned_cert_sha256" in caught.value.rule


def test_a_bad_variable_value_is_never_quoted() -> None:
    """A secret pasted into the wrong variable does not reach the message."""
    env = {"VECTORVUE_BASE_URL": URL, "VECTORVUE_TIMEOUT_SECONDS": "hunter2-secret"}
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig.from_env(environ=env)
    assert caught.value.field == "timeout_seconds"
    assert "hunter2-secret" not in str(caught.value)


def test_the_settings_that_name_secrets_are_the_variable_names() -> None:
    """config check reports these as set/unset, and their variables are not misspellings;
    proxy_from_env ends in _env but is a switch, not a variable's name."""
    assert set(SECRET_VARIABLE_SETTINGS) == {
        "api_key_env",
        "broker_url_env",
        "compliance_key_env",
        "login_password_env",
        "signing_secret_env",
        "signing_key_env",
        "vault_token_env",
        "vault_role_id_env",
        "vault_secret_id_env",
    }
