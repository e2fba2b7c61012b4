"""CalDAV faults against real servers (Radicale with strict preconditions, Xandikos):
a DELETE answered 412, a conflict resolved with `--keep theirs`, and a server that fails
and comes back within the flow's retries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from aarshjul.db.caldav import conflicts
from aarshjul.db.session import session_scope
from conftest import DATA
from test_caldav_sync import PIN, T0, Sync, total


@pytest.fixture
def sync(files, tmp_path, caldav_server, counting_proxy):
    s = Sync(files, tmp_path, caldav_server, counting_proxy(caldav_server))
    yield s
    s.engine.dispose()


def edit_on_server(sync: Sync, uid: str, location: str) -> None:
    """A person changes the event in their calendar app (a conditional PUT straight at the server)."""
    client, cal = sync.server_calendar("styret")
    obj = cal.event_by_uid(uid)
    obj.load()
    assert "LOCATION:" not in obj.data
    edited = obj.data.replace("SUMMARY:", f"LOCATION:{location}\r\nSUMMARY:", 1)
    response = client.put(str(obj.url), edited, {"Content-Type": "text/calendar; charset=utf-8", "If-Match": obj.etag})
    assert response.status in (200, 201, 204)


def test_an_edit_before_the_grace_period_ends_is_a_conflict_not_a_silent_delete(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    sync.files.write("schedule.yaml", PIN.format(day="2025-03-30", extra="    status: cancelled\n"))
    assert total(sync.run(T0 + timedelta(days=1)), "cancelled") == 1  # published as cancelled first
    edit_on_server(sync, uid, "Styrerommet")  # someone changes it on the server after that

    past_grace = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)  # 60 days after its date: we would delete it
    counts = sync.run(past_grace)
    # the sync-collection REPORT saw the edit first: no DELETE at all, a conflict at once
    assert sync.proxy.count("DELETE") == 0 and sync.proxy.count("PUT") == 0
    assert total(counts, "deleted") == 0 and total(counts, "conflicts") == 1 and counts["styret"].new_conflicts == [uid]
    assert str(sync.server_events("styret")[uid]["LOCATION"]) == "Styrerommet"  # still there, as they left it
    with session_scope(sync.engine) as session:
        [row] = conflicts(session, "test-org")
        assert (row.calendar, row.key, row.uid) == ("styret", "1.2/2025/1", uid)
        assert row.conflict_etag and not row.gone  # the server's ETag is kept for `resolve`
        assert "Styrerommet" in row.server_ics

    later = sync.run(past_grace + timedelta(days=1))  # left alone until the board resolves it
    assert sync.proxy.count("DELETE") == 0 and sync.proxy.count("PUT") == 0 and total(later, "conflicts") == 1


def test_resolve_keep_theirs_leaves_the_servers_version_and_the_next_publish_does_not_overwrite_it(sync, tmp_path):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    edit_on_server(sync, uid, "Styrerommet")
    sync.files.write("schedule.yaml", PIN.format(day="2025-04-02", extra=""))
    assert total(sync.run(T0 + timedelta(days=1)), "conflicts") == 1

    env = {**os.environ, "AARSHJUL_DATABASE_URL": sync.url, "COLUMNS": "200"}

    def aarshjul(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "aarshjul", *args, "--plan", str(sync.files.plan)],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)

    listed = aarshjul("calendars", "conflicts")
    assert listed.returncode == 0 and uid in listed.stdout and "endret" in listed.stdout
    resolved = aarshjul("calendars", "resolve", uid, "--keep", "theirs")
    assert resolved.returncode == 0, resolved.stderr
    assert f"{uid}: theirs; løst" in resolved.stdout  # Norwegian, the default language
    assert "Ingen konflikter." in aarshjul("calendars", "conflicts").stdout

    counts = sync.run(T0 + timedelta(days=2))  # the next publish
    assert total(counts, "conflicts") == 0
    ev = sync.server_events("styret")[uid]
    assert str(ev.get("LOCATION")) == "Styrerommet" and ev["DTSTART"].dt.date() == date(2025, 3, 30)  # theirs, kept
    assert sync.proxy.count("PUT") == 0  # not overwritten

    sync.files.write("schedule.yaml", PIN.format(day="2025-04-09", extra=""))  # the plan changes it again
    counts = sync.run(T0 + timedelta(days=3))
    assert total(counts, "updated") == 1 and total(counts, "conflicts") == 0
    assert sync.server_events("styret")[uid]["DTSTART"].dt.date() == date(2025, 4, 9)  # now the plan's


@pytest.mark.prefect
def test_a_server_that_fails_then_recovers_within_the_retries_is_caught_up(prefect_harness, monkeypatch, tmp_path,
                                                                          radicale, counting_proxy):
    """The push task fails on a server that is down (502 through the proxy), is retried by
    Prefect, and succeeds once the server is back: the run completes, every event once."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    from aarshjul.flows.calendars import publish_calendars
    from aarshjul.settings import get_settings

    proxy = counting_proxy(radicale)
    radicale.stop()  # down when the run starts; back after the first failed request

    def bring_back() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(r.status == 502 for r in list(proxy.requests)):
            time.sleep(0.02)
        radicale.start()

    watcher = threading.Thread(target=bring_back, daemon=True)
    watcher.start()
    for name, value in {"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'flow.db'}",
                        "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_CALDAV_URL": proxy.url,
                        "AARSHJUL_CALDAV_USERNAME": radicale.username, "AARSHJUL_CALDAV_PASSWORD": radicale.password,
                        "AARSHJUL_CALDAV_RETRIES": "3", "AARSHJUL_CALDAV_RETRY_DELAY": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AARSHJUL_CALDAV_PASSWORD_BLOCK", raising=False)
    get_settings.cache_clear()
    try:
        state = publish_calendars(plan_path=str(DATA / "minimal" / "plan.yaml"), today=date(2025, 1, 10),
                                  return_state=True)
        watcher.join(60)
        assert state.is_completed(), state
        summary = state.result()
    finally:
        get_settings.cache_clear()

    statuses = [r.status for r in proxy.requests]
    failed = statuses.index(next(s for s in statuses if s != 502))  # the 502s before the first answer
    assert failed >= 1 and all(s == 502 for s in statuses[:failed]) and 502 not in statuses[failed:]
    created = sum(c["created"] for c in summary.caldav.values())
    assert created > 30 and proxy.count("PUT") == created  # each event once, after the server came back

    with get_client(sync_client=True) as client:
        [push] = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="push-caldav")))
    assert push.state.is_completed() and push.run_count == failed + 1  # one attempt per failed request, then success
