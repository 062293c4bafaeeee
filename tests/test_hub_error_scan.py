"""The log scan of tests/conftest.py: it hears a hub's internal errors, and a test's
``hub_errors_expected`` marker allows exactly the ones it names."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.settings import Settings
from tests.conftest import HUB_ERRORS, unexpected_hub_errors


@pytest.mark.hub_errors_expected("internal error")
async def test_a_500_is_heard(settings: Settings) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a handler bug")

    app = create_app(settings, migrate=True)
    app.router.add_get("/broken", broken)
    before = len(HUB_ERRORS.records)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/broken")).status == 500
    heard = HUB_ERRORS.records[before:]
    assert [r.getMessage() for r in heard] == ["internal error"]
    assert heard[0].exc_info is not None and isinstance(heard[0].exc_info[1], RuntimeError)


def _record(name: str, message: str, *, traceback: bool) -> logging.LogRecord:
    exc_info = None
    if traceback:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, exc_info)


def test_only_errors_with_a_traceback_or_a_500_are_kept() -> None:
    scan = type(HUB_ERRORS)()
    for record in (
        _record("contacthub.router", "router failed", traceback=True),
        _record("contacthub.http", "internal error", traceback=False),
        _record("contacthub.routing", "routing.yaml refused: bad", traceback=False),  # an operator's error
    ):
        scan.handle(record)
    assert [r.getMessage() for r in scan.records] == ["router failed", "internal error"]


def test_the_marker_allows_what_it_names() -> None:
    records = [
        _record("contacthub.router", "router failed", traceback=True),
        _record("contacthub.http", "internal error", traceback=True),
    ]
    assert unexpected_hub_errors(records, None) == records
    assert unexpected_hub_errors(records, pytest.mark.hub_errors_expected.mark) == []
    only_router = pytest.mark.hub_errors_expected("router failed").mark
    assert [r.getMessage() for r in unexpected_hub_errors(records, only_router)] == ["internal error"]


def test_a_hub_in_a_process_of_its_own_that_logged_an_internal_error_fails_the_test(tmp_path: Path) -> None:
    from tests.hubproc import HubProcess

    hub = HubProcess(tmp_path / "contacthub.toml", tmp_path)
    hub.log.write_text('{"level": "INFO", "message": "request"}\n')
    hub.stop()  # nothing wrong: nothing said
    hub.log.write_text('{"level": "ERROR", "message": "internal error", "request_id": "r1"}\n')
    with pytest.raises(AssertionError, match="logged internal errors"):
        hub.stop()
