"""Secrets from settings.json (and the job token) never reach log output."""

from __future__ import annotations

import io
import json

import pytest

from lib.api_client import ApiClient, ApiError
from lib.logger import Logger
from tests.foundation.conftest import SECRET, ContextFactory


def test_logger_redacts_everywhere() -> None:
    out = io.StringIO()
    log = Logger(out, secrets=[SECRET, 'quote"and\\slash'], keep_records=True)
    log.info(f"calling https://api/?token={SECRET}&x=1", step=f"step-{SECRET}")
    log.warn(
        "nested",
        detail={
            "headers": {"Authorization": f"Bearer {SECRET}"},
            SECRET: [1, {"deep": (f"..{SECRET}..",)}],
            "exc": RuntimeError(f"failed with {SECRET}"),
            "q": 'quote"and\\slash',
        },
    )
    log.error(RuntimeError(f"boom {SECRET}"))  # type: ignore[arg-type]
    text = out.getvalue()
    assert SECRET not in text and "quote" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [r["level"] for r in lines] == ["info", "warn", "error"]
    assert lines[0]["message"] == "calling https://api/?token=***&x=1"
    assert lines[1]["detail"]["headers"]["Authorization"] == "Bearer ***"
    assert lines[1]["detail"]["***"][1]["deep"] == ["..***.."]
    assert lines[1]["detail"]["exc"] == "RuntimeError: failed with ***"
    assert set(lines[0]) == {"ts", "level", "message", "step", "detail"}
    assert log.records is not None and SECRET not in json.dumps(log.records)


def test_context_logger_knows_settings_secrets_and_job_token(make_context: ContextFactory) -> None:
    out = io.StringIO()
    context = make_context(log_stream=out)
    token = context.api.session.headers["Authorization"].split()[1]
    nested = "hunter2-nested-pass"
    context.logger.info(
        "values", detail={"a": context.get_secret("acme_token"), "b": nested, "t": str(token)}
    )
    try:
        context.api.get("/v1/supplier/x", params={"q": SECRET})
    except ApiError as exc:
        context.logger.error(f"lookup failed: {exc}", detail={"body": exc.response_body, "exc": exc})
    text = out.getvalue()
    assert SECRET not in text and nested not in text and str(token) not in text
    assert text.count("***") >= 3


def test_api_error_text_never_holds_the_token() -> None:
    token = "job-token-that-is-secret-xyz"
    api = ApiClient("http://127.0.0.1:9", token, "10000001", timeout=2)
    with pytest.raises(ApiError) as info:
        api.get(f"/v1/x/{token}")  # even a careless path does not leak it into the message
    assert token not in str(info.value)
    assert token not in repr(api)


def test_human_format_redacts_too() -> None:
    out = io.StringIO()
    Logger(out, secrets=[SECRET], fmt="human").warn("x", step="s", detail={"k": SECRET})
    assert SECRET not in out.getvalue() and "WARN  [s] x" in out.getvalue()
