"""The ``limit=0`` server-time probe in each variant: windows close at the server's time.

The host clock is set *ahead* of the sandbox's (the unsafe direction: a window closing
in the server's future would let records updated during the run slip behind the
cursor). With a ``Date`` header the window closes at the server's time however far off
the host clock is; without one it closes ``HOST_CLOCK_MARGIN`` (5 minutes) before the
host clock, which is safe for a host clock up to that far ahead, and a warning names
the assumption. (A host clock further ahead with no ``Date`` header is the remaining
risk, listed among the unconfirmed assumptions.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.connect import SubscriptionAssetsSource
from adapters.connect import sources as connect_sources
from sandbox.server import RunningServer
from tests.connect.conftest import make_client


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str, **_: object) -> None:
        self.warnings.append(message)

    def info(self, message: str, **_: object) -> None:
        pass

    def error(self, message: str, **_: object) -> None:
        pass


@pytest.mark.parametrize("variant", ["date_header", "no_date_header", "limit_zero_refused"])
def test_window_closes_at_or_before_the_servers_time(
    connect: RunningServer, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"server_time": variant}).raise_for_status()
    real_now = datetime.now(UTC)
    ahead = real_now + (timedelta(hours=6) if variant == "date_header" else timedelta(minutes=4))
    monkeypatch.setattr(connect_sources, "_utcnow", lambda: ahead)
    logger = Recorder()
    source = SubscriptionAssetsSource(make_client(connect.url), logger=logger)
    end = source.window_end()
    if variant == "date_header":
        assert abs((end - real_now).total_seconds()) < 5, "the server's Date, not the host clock"
        assert logger.warnings == []
    else:
        assert end == ahead - connect_sources.HOST_CLOCK_MARGIN
        assert end <= datetime.now(UTC), "closed no later than the server's time"
        assert "no Date header" in logger.warnings[0]
    # every record updated before the probe is inside the window and is read
    records = list(source.fetch_since(None))
    assert records and all(r.cursor is not None and r.cursor < end for r in records)
