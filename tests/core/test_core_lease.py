"""The run lease: interleavings forced with barriers, takeover of dead holders, fencing of paused ones.

Every contender talks to one in-memory Nuntiq (:class:`FakeApi`, whose server clock only
moves when the test says so or a row is written), so "server time" is exact and no test
depends on timing luck.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from core_fakes import FakeApi

from adapters.lease import LeaseBusy, LeaseLost, RunLease
from adapters.retry import Retrier

TTL = timedelta(seconds=100)


class Monotonic:
    """A monotonic clock the test moves (it keeps counting while a process is 'paused')."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lease(api: Any, run: str, clock: Monotonic | None = None, **kw: Any) -> RunLease:
    return RunLease(
        api,
        connector_name="acme",
        stream="things",
        ttl=TTL,
        run_id=run,
        started_by=f"host {run}",
        monotonic=clock or Monotonic(),
        **{"retrier": Retrier.direct(), **kw},
    )


class PausingApi:
    """Passes calls to ``api``; after this contender's first PUT it waits for ``resume``."""

    def __init__(self, api: FakeApi, written: threading.Event, resume: threading.Event) -> None:
        self.api = api
        self.written = written
        self.resume = resume

    def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        answer = self.api.put(path, data)
        if not self.written.is_set():
            self.written.set()
            assert self.resume.wait(5)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)


def test_second_run_yields_and_writes_nothing() -> None:
    api = FakeApi()
    first = lease(api, "run-a")
    first.acquire()
    second = lease(api, "run-b")
    with pytest.raises(LeaseBusy) as busy:
        second.acquire()
    text = str(busy.value)
    assert "another run of acme/things is in progress since" in text
    assert "started by host run-a" in text and "run-a" in text and "wrote nothing" in text
    # the loser withdrew its claim; only the holder's row is left
    assert [k.rsplit("/", 1)[1] for k in api.tables["adapters_run_lease"]] == ["run-a"]
    first.fence()  # the holder is undisturbed


@pytest.mark.parametrize("reader_first", ["earlier", "later"])
def test_both_claims_written_before_either_reads_one_winner(reader_first: str) -> None:
    """A writes, pauses before reading; B writes and reads; then A reads (and the reverse order)."""
    api = FakeApi()
    a_written, a_resume = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def contend(name: str, contender_api: Any) -> None:
        try:
            lease(contender_api, name).acquire()
            outcomes[name] = "holds"
        except LeaseBusy:
            outcomes[name] = "busy"

    a = threading.Thread(target=contend, args=("run-a", PausingApi(api, a_written, a_resume)))
    a.start()
    assert a_written.wait(5)  # A's claim is on record, A has not listed yet
    b_written, b_resume = threading.Event(), threading.Event()
    b = threading.Thread(target=contend, args=("run-b", PausingApi(api, b_written, b_resume)))
    b.start()
    assert b_written.wait(5)  # both claims on record, neither has read
    first, second = (a_resume, b_resume) if reader_first == "earlier" else (b_resume, a_resume)
    first.set()
    (a if first is a_resume else b).join(5)
    second.set()
    a.join(5)
    b.join(5)
    assert outcomes == {"run-a": "holds", "run-b": "busy"}  # the earlier claim wins either way


def test_three_contenders_exactly_one_holds() -> None:
    api = FakeApi()
    results = []
    for name in ("r1", "r2", "r3"):
        try:
            lease(api, name).acquire()
            results.append(name)
        except LeaseBusy:
            pass
    assert results == ["r1"]


def test_dead_holder_is_taken_over_after_ttl_only() -> None:
    api = FakeApi()
    lease(api, "dead").acquire()  # then SIGKILLed: it never heartbeats or releases again
    api.clock += TTL - timedelta(seconds=5)
    with pytest.raises(LeaseBusy):
        lease(api, "early").acquire()
    api.clock += timedelta(seconds=10)  # now past the ttl since the dead holder's last heartbeat
    taker = lease(api, "taker")
    taker.acquire()
    assert taker.held
    assert all(not k.endswith("/dead") for k in api.tables["adapters_run_lease"])  # tidied away


def test_paused_holder_resumes_and_writes_nothing_and_cannot_revive() -> None:
    api = FakeApi()
    paused_clock = Monotonic()
    paused = lease(api, "paused", paused_clock)
    paused.acquire()
    paused.fence()  # fine while it holds
    # SIGSTOP: no heartbeats; the host's monotonic clock keeps counting
    api.clock += TTL + timedelta(seconds=1)
    paused_clock.now += TTL.total_seconds() + 1
    taker = lease(api, "taker")
    taker.acquire()
    # SIGCONT: the paused run's next write batch is fenced
    with pytest.raises(LeaseLost, match="lost the lease"):
        paused.fence()
    with pytest.raises(LeaseLost):
        paused.fence()  # and it stays lost
    # its heartbeat row (written by the failed fence) is a lapsed claim: it cannot win back
    api.clock += timedelta(seconds=1)
    taker.confirm()
    assert taker.held
    assert lease(api, "observer").is_live("paused") is False


def test_fence_checks_only_when_the_last_confirmation_is_a_quarter_ttl_old() -> None:
    api = FakeApi()
    clock = Monotonic()
    holder = lease(api, "run-a", clock)
    holder.acquire()
    writes = api.clock
    clock.now += TTL.total_seconds() / 4 - 1
    holder.fence()
    assert api.clock == writes  # no call: confirmed recently
    clock.now += 2
    holder.fence()
    assert api.clock > writes  # heartbeat written


def test_a_shorter_ttl_set_later_shortens_the_grace_fence_trusts() -> None:
    api = FakeApi()
    clock = Monotonic()
    holder = lease(api, "run-a", clock)
    holder.acquire()
    holder.ttl = TTL / 10
    assert holder.grace == TTL.total_seconds() / 40
    writes = api.clock
    clock.now += TTL.total_seconds() / 40 + 1
    holder.fence()
    assert api.clock > writes  # confirmed again under the new, shorter grace


def test_release_frees_the_lease_at_once() -> None:
    api = FakeApi()
    first = lease(api, "run-a")
    first.acquire()
    first.release()
    lease(api, "run-b").acquire()


def test_scopes_are_separate_and_is_live_sees_every_scope() -> None:
    api = FakeApi()
    lease(api, "scheduled").acquire()
    backfill = lease(api, "backfill", scope="backfill")
    backfill.acquire()  # a bounded backfill runs beside the scheduled job
    assert backfill.is_live("scheduled") and not backfill.is_live("nobody")


def test_an_upsert_answer_without_a_time_is_read_back_from_the_listed_row() -> None:
    class NoStampApi(FakeApi):
        def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
            super().put(path, data)
            return {"written": 1}

    api = NoStampApi()
    holder = lease(api, "run-a")
    holder.acquire()
    assert holder.held
    assert holder.clock.known  # the stamp came from the row as listed


def test_lease_needs_the_servers_timestamp() -> None:
    class NoStampApi(FakeApi):
        def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
            super().put(path, data)
            return {"written": 1}

        def get(self, path: str, params: Any = None, extra_headers: Any = None) -> Any:
            body = super().get(path, params)
            for row in body.get("items", []):
                row.pop("updated_at", None)
            return body

    with pytest.raises(LeaseLost, match=r"updated_at.*got \{'written': 1\}"):
        lease(NoStampApi(), "run-a").acquire()


def test_pause_during_the_check_itself_is_caught() -> None:
    """Paused while waiting for the list answer (which still showed it holding): checked again."""
    api = FakeApi()
    clock = Monotonic()
    holder = lease(api, "paused", clock)
    holder.acquire()
    clock.now += TTL.total_seconds()  # due for a check

    class PauseAfterList:
        def __init__(self, inner: FakeApi) -> None:
            self.inner = inner
            self.paused = False

        def get(self, path: str, params: Any = None, extra_headers: Any = None) -> Any:
            answer = self.inner.get(path, params)
            if not self.paused:  # SIGSTOP after the server answered; another run takes over
                self.paused = True
                api.clock += TTL + timedelta(seconds=1)
                clock.now += TTL.total_seconds() + 1
                lease(api, "taker").acquire()
            return answer

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    holder.api = PauseAfterList(api)  # type: ignore[assignment]
    with pytest.raises(LeaseLost):
        holder.fence()
