"""Settings and job params refuse mistakes before any call, naming the key and the likely intent."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from adapters.codat.factory import CodatConfigError
from adapters.codat.factory import settings_from_context as codat_settings
from adapters.connect import client_from_context
from adapters.connect.errors import classify_connect_error
from adapters.connect.settings import config_json_schema as connect_schema
from adapters.connect.settings import settings_from_context as connect_settings
from adapters.params import MAX_LOOKBACK_DAYS, ParamError, read_job_params
from adapters.protocol import Ordering, Source
from adapters.retry import Retrier, RetryPolicy
from adapters.settings import SettingsError
from adapters.sinks.base import SinkCounts
from adapters.sync import sync
from adapters.testing import FakeContext

CONNECT_KEY = "ApiKey SU-000-000-000:typo-test-key"


class NeverCalledSource(Source[Any]):
    name = "things"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def __init__(self) -> None:
        self.calls = 0

    def fetch_since(self, cursor: Any) -> Iterator[Any]:
        self.calls += 1
        return iter(())


class CountingDelta:
    def __init__(self) -> None:
        self.opened = 0

    @contextmanager
    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.opened += 1
        raise AssertionError("delta_run must not be opened")
        yield


class NullSink:
    name = "null"
    pending = 0
    counts = SinkCounts()

    def add(self, item: Any) -> None:
        raise AssertionError("nothing should reach the sink")

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        pass


def run_with(params: dict[str, Any], **kwargs: Any) -> tuple[NeverCalledSource, CountingDelta]:
    source, delta = NeverCalledSource(), CountingDelta()
    sync(FakeContext(params=params), source, NullSink(), connector_name="c", delta_run=delta, **kwargs)
    return source, delta


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"since_overide": "2024-01-01T00:00:00Z"}, r"'since_overide'.*did you mean 'since_override'"),
        ({"until_overrde": "2024-01-01T00:00:00Z"}, r"'until_overrde'.*did you mean 'until_override'"),
        ({"lookback_day": "3"}, r"'lookback_day'.*did you mean 'lookback_days'"),
        ({"lookback_days": 1.9}, r"lookback_days must be a whole number of days from 0 to 36500, got 1.9"),
        ({"lookback_days": "1.9"}, r"lookback_days .*got '1.9'"),
        ({"lookback_days": True}, r"lookback_days .*got True"),
        ({"lookback_days": -1}, r"lookback_days .*got -1"),
        ({"lookback_days": 10**30}, r"lookback_days .*from 0 to 36500"),
        ({"lookback_days": "99999999999999999999"}, r"lookback_days .*from 0 to 36500"),
        ({"since_override": "0001-01-01T00:00:00Z"}, r"since_override is outside 1970.*'0001-01-01"),
        ({"until_override": "9999-12-31T00:00:00Z"}, r"until_override is outside .*2100"),
        ({"since_override": 1e20}, r"since_override"),
        (
            {"since_override": "2026-02-01T00:00:00Z", "until_override": "2026-01-01T00:00:00Z"},
            "before since_override",
        ),
    ],
)
def test_bad_job_params_fail_before_any_call(params: dict[str, Any], pattern: str) -> None:
    source, delta = NeverCalledSource(), CountingDelta()
    with pytest.raises(ParamError, match=pattern):
        sync(FakeContext(params=params), source, NullSink(), connector_name="c", delta_run=delta)
    assert source.calls == 0 and delta.opened == 0


def test_good_params_parse_and_foreign_params_pass() -> None:
    ctx = FakeContext(
        params={
            "since_override": "2024-01-01",
            "lookback_days": "7",
            "run_id": "r-123",  # a framework param: not ours, not a near miss
            "dry_run": "1",  # the connector's own, declared below
        }
    )
    parsed = read_job_params(ctx, declared=("dry_run",))
    assert parsed.lookback_days == 7 and parsed.since_override is not None
    assert parsed.since_override.isoformat() == "2024-01-01T00:00:00+00:00"
    assert read_job_params(FakeContext(params={"lookback_days": 7.0})).lookback_days == 7
    most = read_job_params(FakeContext(params={"lookback_days": MAX_LOOKBACK_DAYS}))
    assert most.lookback_days == MAX_LOOKBACK_DAYS


def test_declared_params_are_protected_from_typos_too() -> None:
    with pytest.raises(ParamError, match=r"'dry_rn'.*did you mean 'dry_run'"):
        read_job_params(FakeContext(params={"dry_rn": "1"}), declared=("dry_run",))
    # undeclared, a near miss of nothing known: accepted untouched
    read_job_params(FakeContext(params={"dry_rn": "1"}))


def test_a_context_that_cannot_list_params_still_checks_values() -> None:
    class Opaque:
        logger = None
        api = None

        def get_param(self, key: str, default: Any = None) -> Any:
            return {"lookback_days": 1.9}.get(key, default)

        def get_config(self, key: str, default: Any = None) -> Any:
            return default

        def get_secret(self, key: str) -> Any:
            return None

    with pytest.raises(ParamError, match="lookback_days"):
        read_job_params(Opaque())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"connect_endpont": "http://x"}, r"config.connect_endpont .*did you mean 'connect_endpoint'"),
        ({"conect_endpoint": "http://x"}, r"config.conect_endpoint .*did you mean 'connect_endpoint'"),
        ({"connect_page_sise": 50}, r"config.connect_page_sise .*'connect_page_size'"),
        ({"connect_whatever": 1}, r"config.connect_whatever is not a Connect setting"),
        ({"retyr": {}}, r"config.retyr .*did you mean 'retry'"),
        ({"connect_page_size": 0}, r"config.connect_page_size: Input should be greater than or equal to 1"),
    ],
)
def test_connect_settings_refuse_typos_before_any_call(config: dict[str, Any], pattern: str) -> None:
    ctx = FakeContext(config={"connector_name": "c", **config}, secrets={"connect_api_key": CONNECT_KEY})
    started = time.monotonic()
    with pytest.raises(SettingsError, match=pattern):
        client_from_context(ctx)
    assert time.monotonic() - started < 1.0  # refused, not retried


def test_connector_keys_next_to_connect_keys_are_left_alone() -> None:
    ctx = FakeContext(config={"connector_name": "c", "media_folder": "x/y", "connect_page_size": 10})
    assert connect_settings(ctx).page_size == 10


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"codat": {"server_ur": "http://x"}}, r"config.codat.server_ur .*did you mean 'server_url'"),
        ({"codat": {"company_idz": ["a"]}}, r"config.codat.company_idz .*did you mean 'company_id"),
        ({"codat": {"archive_limits": {"max_member": 3}}}, r"archive_limits.max_member .*'max_members'"),
        ({"codta": {}}, r"config.codta .*did you mean 'codat'"),
    ],
)
def test_codat_settings_refuse_typos(config: dict[str, Any], pattern: str) -> None:
    with pytest.raises(CodatConfigError, match=pattern):
        codat_settings(FakeContext(config=config))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cannot_reach_connect_names_the_host_and_the_setting() -> None:
    port = _closed_port()
    ctx = FakeContext(
        config={"connect_endpoint": f"http://127.0.0.1:{port}"}, secrets={"connect_api_key": CONNECT_KEY}
    )
    client = client_from_context(ctx)
    retrier = Retrier(classify_connect_error, source="connect", policy=RetryPolicy(max_attempts=1))
    with pytest.raises(Exception) as caught:
        retrier.call(lambda: list(client.collection("listings").all().limit(1)), step="probe")
    text = str(caught.value)
    assert f"127.0.0.1:{port}" in text and "connect_endpoint" in text
    assert "typo-test-key" not in text


def test_connect_config_schema_lists_flat_keys_and_shared_settings() -> None:
    schema = connect_schema()
    props = schema["properties"]
    assert {"connect_endpoint", "connect_page_size", "connector_name", "retry"} <= set(props)
    assert props["connect_page_size"]["minimum"] == 1
    ref = props["retry"].get("$ref") or props["retry"]["allOf"][0]["$ref"]
    assert ref.rsplit("/", 1)[1] in schema["$defs"]


def test_every_run_wide_setting_is_in_each_integration_schema_and_typo_checked() -> None:
    """Budget, lease, checkpoint and quarantine settings sit in the shared model, so each
    integration's JSON Schema shows them and a near miss of their block is refused."""
    from adapters.codat.settings import config_json_schema as codat_schema
    from adapters.settings import SettingsError, check_config_keys

    for schema in (connect_schema(), codat_schema()):
        props = schema["properties"]
        assert {"retry", "run", "quarantine"} <= set(props)
        run = schema["$defs"][props["run"]["$ref"].rsplit("/", 1)[1]]
        wanted = {"time_budget_seconds", "lease_ttl_seconds", "checkpoint_every_items"}
        assert wanted <= set(run["properties"])
    with pytest.raises(SettingsError, match="did you mean 'quarantine'"):
        check_config_keys(["quarantin"], prefix="connect_", known=[], what="Connect")
