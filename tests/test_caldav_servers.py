"""The CalDAV server fixtures work: real servers, restartable, counted through the proxy.

Also pins down how Radicale and Xandikos treat conditional PUT/DELETE and which
headers the caldav library sends (summarised in caldav_servers' docstring).
"""

from __future__ import annotations

import caldav
import niquests
import pytest
from caldav.lib import error
from caldav_servers import CountingProxy, Server, _require
from caldav_servers import caldav_server, counting_proxy, radicale, xandikos  # noqa: F401

ICAL = {"Content-Type": "text/calendar; charset=utf-8"}


def event_ics(uid: str, summary: str = "Planning") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//aarshjul//tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def dav():
    """``dav(server, url=None)``: a caldav client (optionally via a proxy URL), closed at teardown."""
    clients: list[caldav.DAVClient] = []

    def connect(server: Server, url: str | None = None) -> caldav.DAVClient:
        client = caldav.DAVClient(url=url or server.url, username=server.username, password=server.password)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def http():
    """``http(server)``: a plain niquests session with the server's credentials, closed at teardown."""
    sessions: list[niquests.Session] = []

    def session_for(server: Server) -> niquests.Session:
        sessions.append(niquests.Session())
        sessions[-1].auth = server.auth
        return sessions[-1]

    yield session_for
    for session in sessions:
        session.close()


def if_headers(proxy: CountingProxy) -> list[tuple[str, int, dict[str, str]]]:
    """(method, status, conditional headers) of every request the proxy saw."""
    return [
        (r.method, r.status, {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("if-")})
        for r in proxy.requests
    ]


def test_server_answers_caldav_and_survives_a_restart(caldav_server: Server, dav):
    principal = dav(caldav_server).principal()
    calendar = principal.make_calendar(name="Board", cal_id="board-cal")
    calendar.add_event(event_ics("restart-1"))
    port = caldav_server.port

    caldav_server.stop()
    assert not caldav_server.is_up()
    assert caldav_server.process is None

    caldav_server.start()
    assert caldav_server.is_up() and caldav_server.port == port
    calendar = dav(caldav_server).principal().calendar(cal_id="board-cal")
    assert [e.icalendar_component["uid"] for e in calendar.events()] == ["restart-1"]


@pytest.mark.parametrize(
    ("server_name", "principal_path", "home_path"),
    [("radicale", "/board/", "/board/"), ("xandikos", "/user/", "/user/calendars/")],
)
def test_url_layout(request, dav, server_name, principal_path, home_path):
    server: Server = request.getfixturevalue(server_name)
    principal = dav(server).principal()
    assert principal.url.path == principal_path
    assert principal.calendar_home_set.url.path == home_path
    assert principal.make_calendar(cal_id="work").url.path == home_path + "work/"


def test_one_event_is_one_put_through_the_proxy(caldav_server: Server, counting_proxy, dav):
    proxy = counting_proxy(caldav_server)
    calendar = dav(caldav_server, proxy.url).principal().make_calendar(name="Board", cal_id="counted")
    assert proxy.count("MKCALENDAR") == 1
    proxy.reset()

    event = calendar.add_event(event_ics("counted-1", "Budget review"))
    assert proxy.methods() == ["PUT"]
    assert event.url.netloc == proxy.url.split("/")[2]  # hrefs stay on the proxy

    proxy.reset()
    (found,) = calendar.events()
    assert found.icalendar_component["summary"] == "Budget review"
    assert proxy.count("REPORT") == 1 and proxy.count("PUT") == 0
    assert all(r.status < 500 for r in proxy.requests)


def test_proxy_answers_502_while_the_server_is_down(caldav_server: Server, counting_proxy, http):
    proxy = counting_proxy(caldav_server)
    session = http(caldav_server)
    caldav_server.stop()
    assert session.request("PROPFIND", proxy.url, headers={"Depth": "0"}).status_code == 502
    caldav_server.start()
    assert session.request("PROPFIND", proxy.url, headers={"Depth": "0"}).status_code == 207
    assert [r.status for r in proxy.requests] == [502, 207]


def test_conditional_requests(caldav_server: Server, dav, http):
    calendar = dav(caldav_server).principal().make_calendar(cal_id="cond")
    session = http(caldav_server)
    url, missing = str(calendar.url) + "cond-1.ics", str(calendar.url) + "missing.ics"

    def put(target: str, condition: dict[str, str], summary: str = "v", uid: str = "") -> niquests.Response:
        uid = uid or target.rsplit("/", 1)[-1].removesuffix(".ics")
        return session.put(target, data=event_ics(uid, summary), headers=ICAL | condition)

    created = put(url, {"If-None-Match": "*"})
    assert created.status_code == 201
    first_etag = created.headers["ETag"]
    assert session.get(url).headers["ETag"] == first_etag
    assert put(url, {"If-None-Match": "*"}).status_code == 412

    updated = put(url, {"If-Match": first_etag}, "v2")
    assert updated.status_code == 204
    second_etag = updated.headers["ETag"]
    assert second_etag != first_etag and session.get(url).headers["ETag"] == second_etag

    assert put(url, {"If-Match": '"wrong"'}).status_code == 412
    assert put(url, {"If-Match": first_etag}).status_code == 412
    assert put(url, {"If-Match": "*"}, "v3").status_code == 204
    assert put(missing, {"If-Match": second_etag}).status_code == 412
    assert put(missing, {"If-Match": "*"}).status_code == 412

    # An unconditional overwrite: refused by Radicale's strict_preconditions, accepted by Xandikos.
    assert put(url, {}, "blind").status_code == {"radicale": 412, "xandikos": 204}[caldav_server.name]
    same_uid = put(str(calendar.url) + "other.ics", {"If-None-Match": "*"}, uid="cond-1")
    assert same_uid.status_code == {"radicale": 409, "xandikos": 412}[caldav_server.name]
    assert "no-uid-conflict" in same_uid.text

    assert session.delete(url, headers={"If-Match": '"wrong"'}).status_code == 412
    current = session.get(url).headers["ETag"]
    assert session.delete(url, headers={"If-Match": current}).status_code in (200, 204)
    assert session.get(url).status_code == 404


def test_caldav_library_conditional_headers(caldav_server: Server, counting_proxy, dav):
    proxy = counting_proxy(caldav_server)
    client = dav(caldav_server, proxy.url)
    calendar = client.principal().make_calendar(cal_id="lib")
    proxy.reset()

    event = calendar.add_event(event_ics("lib-1"), no_overwrite=True)
    # Default features: a UID search first, then If-None-Match: *
    assert if_headers(proxy) == [("REPORT", 207, {}), ("PUT", 201, {"if-none-match": "*"})]
    with pytest.raises(error.ConsistencyError):
        calendar.add_event(event_ics("lib-1"), no_overwrite=True)

    proxy.reset()
    etag = event.etag
    event.icalendar_component["summary"] = "renamed"
    event.save(increase_seqno=False, precondition="etag")
    assert if_headers(proxy) == [("PUT", 204, {"if-match": etag})]
    assert event.etag != etag  # taken from the PUT response

    other = calendar.event_by_url(event.url)
    other.load()
    other.icalendar_component["summary"] = "changed elsewhere"
    other.save(increase_seqno=False, precondition="etag")
    event.icalendar_component["summary"] = "stale"
    with pytest.raises(error.ETagMismatchError):
        event.save(increase_seqno=False, precondition="etag")

    # Direct PUT: a 412 is a response, not an exception.
    proxy.reset()
    response = client.put(str(event.url), event_ics("lib-1"), ICAL | {"If-Match": '"wrong"'})
    assert response.status == 412
    response = client.put(str(event.url), event_ics("lib-1", "direct"), ICAL | {"If-Match": other.etag})
    assert response.status == 204 and response.headers["ETag"]

    proxy.reset()
    with pytest.raises(error.ConsistencyError):
        calendar.add_event(event_ics("lib-missing"), no_create=True)
    calendar.add_event(event_ics("lib-1", "via no_create"), no_create=True, increase_seqno=False)
    assert if_headers(proxy) == [("PUT", 412, {"if-match": "*"}), ("PUT", 204, {"if-match": "*"})]

    proxy.reset()
    other.load()
    other.delete(if_match=True, precondition="etag")
    ((method, status, conditions),) = if_headers(proxy)[-1:]
    assert (method, conditions) == ("DELETE", {"if-match": other.etag}) and status in (200, 204)


def test_xandikos_schedule_tag_wins_over_etag_by_default(xandikos: Server, counting_proxy, dav):
    proxy = counting_proxy(xandikos)
    calendar = dav(xandikos, proxy.url).principal().calendar(cal_id="calendar")
    event = calendar.add_event(event_ics("sched-1"))
    proxy.reset()
    event.icalendar_component["summary"] = "again"
    event.save(increase_seqno=False)  # precondition="auto"
    assert list(if_headers(proxy)[0][2]) == ["if-schedule-tag-match"]


@pytest.mark.parametrize(("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_missing_server_package_skips_or_fails_on_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome):
        _require("no_such_caldav_server_package")


def test_proxy_relays_chunked_bodies_and_head(caldav_server: Server, counting_proxy, dav, http):
    calendar = dav(caldav_server).principal().make_calendar(cal_id="chunked")
    proxy = counting_proxy(caldav_server)
    session = http(caldav_server)
    url = proxy.url_for(str(calendar.url) + "chunked-1.ics")
    body = event_ics("chunked-1").encode()

    put = session.put(url, data=iter([body[:50], body[50:]]), headers=ICAL)  # a generator goes out chunked
    assert put.status_code == 201
    assert proxy.requests[-1].headers.get("Transfer-Encoding") == "chunked"
    assert session.get(url).content.replace(b"\r\n", b"\n").count(b"UID:chunked-1") == 1
    head = session.head(url)
    assert head.status_code == 200 and head.content == b""
    assert proxy.methods() == ["PUT", "GET", "HEAD"]
