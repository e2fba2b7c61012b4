"""`aarshjul web` as a real uvicorn process on a free loopback port, driven with httpx:
RFC 8058 one-click unsubscribe end to end, the unsubscribe page, bad tokens, the site's
feeds with ETag/304 and 404s, CSRF, the rate limit, the security headers, the access log."""

from __future__ import annotations

import email
import re
from datetime import date, datetime, timezone
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from aarshjul.db.models import Unsubscribe
from aarshjul.db.session import make_engine, session_scope
from test_mail import add_members, people
from test_newsletter_cli import TODAY, cli  # noqa: F401  (the fixture)
from web_server import WebServer

ORG = "test-org"


def unsubscribed(url: str) -> list[tuple[str, str, str, str]]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return [(u.organisation, u.audience, u.recipient, u.source)
                    for u in session.scalars(select(Unsubscribe).order_by(Unsubscribe.id))]
    finally:
        engine.dispose()


class Env:
    """A database, a secret key, the minimal plan and a site folder; `web()` starts the server."""

    def __init__(self, files, tmp_path: Path, database_url: str | None = None):
        from aarshjul.db.migrate import upgrade
        from aarshjul.tasks.mailer import secret_key

        self.files, self.tmp = files, tmp_path
        self.url = database_url or f"sqlite:///{tmp_path / 'web.db'}"
        upgrade(self.url)
        self.key_file = tmp_path / "secret.key"
        self.secret = secret_key(self.key_file)
        self.site_dir = tmp_path / "site"
        self.servers: list[WebServer] = []

    @property
    def env(self) -> dict[str, str]:
        return {"AARSHJUL_DATABASE_URL": self.url, "AARSHJUL_PLAN": str(self.files.plan),
                "AARSHJUL_SECRET_KEY_FILE": str(self.key_file), "AARSHJUL_SITE_DIR": str(self.site_dir),
                "AARSHJUL_SITE_URL": "https://test.example.org"}

    def web(self, *args: str) -> WebServer:
        server = WebServer(self.env, self.tmp, *args)
        self.servers.append(server)
        return server

    def token(self, audience: str = "nyhetsbrev", member: str = "00002", org: str = ORG) -> str:
        from aarshjul.domain.messages import unsubscribe_token

        return unsubscribe_token(self.secret, org, audience, member)


@pytest.fixture
def web_env(files, tmp_path):
    e = Env(files, tmp_path)
    yield e
    for s in e.servers:
        s.stop()


@pytest.fixture
def web_env_db(files, tmp_path, database_url):
    """As web_env, on SQLite and on PostgreSQL (where AARSHJUL_TEST_POSTGRES_URL is set)."""
    e = Env(files, tmp_path, database_url)
    yield e
    for s in e.servers:
        s.stop()


def from_address(n: int) -> httpx.Client:
    """A client whose requests come from 127.0.0.n (the rate limit counts per address)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"))


def form_token(html: str) -> str:
    return re.search(r'name="skjema" value="([^"]+)"', html).group(1)


# --- one-click unsubscribe ---------------------------------------------------------------


@pytest.mark.prefect
def test_one_click_from_a_sent_letter_unsubscribes_and_the_next_edition_skips_the_member(
        prefect_harness, cli, files, tmp_path):
    """An edition to the outbox; a letter's List-Unsubscribe URL; the RFC 8058 POST to a
    real `aarshjul web`; the next edition is not sent to that member."""
    from aarshjul.db.migrate import upgrade

    upgrade(cli.url)
    add_members(cli.url, people(4))
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0, err
    letters = {}
    for path in (tmp_path / "outbox").rglob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        letters[str(msg["To"]).split("<")[-1].rstrip(">")] = msg
    assert len(letters) == 4
    assert letters["m3@example.org"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(letters["m3@example.org"]["List-Unsubscribe"]).split(">")[0].strip().removeprefix("<")
    assert link.startswith("https://test.example.org/avmeld/")  # mail.yaml's url: AARSHJUL_SITE_URL + the route

    e = Env(files, tmp_path, cli.url)
    server = e.web()
    try:
        path = link.removeprefix("https://test.example.org")
        # as a mail provider sends it: no cookie, no form token, the body of RFC 8058 §3.1
        r = httpx.post(server.url + path, data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200, r.text
        assert "set-cookie" not in r.headers and "Nyhetsbrev" in r.text
        again = httpx.post(server.url + path, files={"List-Unsubscribe": (None, "One-Click")})  # multipart, twice
        assert again.status_code == 200
        assert unsubscribed(cli.url) == [(ORG, "nyhetsbrev", "00003", "web")]
        assert "/avmeld/…" in server.output() and path.rsplit("/", 1)[1] not in server.output()  # no token logged
    finally:
        server.stop()

    (files.folder / "content" / "nyhetsbrev" / "2025-04.md").write_text("April.", encoding="utf-8")
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-04", "--today", "2025-04-02")
    assert code == 0, err
    assert "nyhetsbrev/2025-04: 3 sendt" in out and "1 avmeldt" in out
    april = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in (tmp_path / "outbox").rglob("*.eml") if "2025-04" in str(p)]
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in april) == [
        "m1@example.org", "m2@example.org", "m4@example.org"]


def test_a_get_never_unsubscribes_the_page_does_and_undo_subscribes_again(web_env_db):
    web_env = web_env_db
    server = web_env.web()
    token = web_env.token()
    page = httpx.get(f"{server.url}/avmeld/{token}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Vil du melde deg av <strong>Nyhetsbrev</strong>?" in page.text and 'method="post"' in page.text
    assert "set-cookie" not in page.headers
    assert unsubscribed(web_env.url) == []  # a link scanner's GET changes nothing

    done = httpx.post(f"{server.url}/avmeld/{token}", data={"skjema": form_token(page.text), "handling": "avmeld"})
    assert done.status_code == 200 and "Du er meldt av <strong>Nyhetsbrev</strong>" in done.text
    assert unsubscribed(web_env.url) == [(ORG, "nyhetsbrev", "00002", "web")]
    undo = httpx.post(f"{server.url}/avmeld/{token}", data={"skjema": form_token(done.text), "handling": "angre"})
    assert undo.status_code == 200 and "meldt på <strong>Nyhetsbrev</strong> igjen" in undo.text
    assert unsubscribed(web_env.url) == []


def test_a_token_unsubscribes_from_its_own_list_only(web_env):
    server = web_env.web()
    r = httpx.post(f"{server.url}/avmeld/{web_env.token('hva-skjer/nord', '00005')}",
                   data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "Hva skjer – Nord SV" in r.text
    assert unsubscribed(web_env.url) == [(ORG, "hva-skjer/nord", "00005", "web")]


def test_forged_cut_malformed_foreign_and_unknown_list_tokens_get_400_and_record_nothing(web_env):
    from aarshjul.domain.messages import unsubscribe_token

    server = web_env.web()
    good = web_env.token()
    first, tag = good.split(".")
    bad = {
        "another installation's key": unsubscribe_token(b"k" * 32, ORG, "nyhetsbrev", "00002"),
        "a changed tag": first + "." + ("A" if tag[0] != "A" else "B") + tag[1:],
        "cut short": good[:-5],
        "the tag missing": first,
        "malformed": "%%%.???",
        "not base64": "@@@@.@@@@",
        "another organisation": web_env.token(org="other-org"),
        "a list mail.yaml does not have": web_env.token(audience="gammelt-brev"),
        "very long": "A" * 600 + "." + "B" * 22,
    }
    for n, (what, token) in enumerate(bad.items(), start=10):
        with from_address(n) as client:  # each from its own address: the rate limit is tested below
            for method in ("GET", "POST"):
                r = client.request(method, f"{server.url}/avmeld/{token}", data={"List-Unsubscribe": "One-Click"})
                assert r.status_code in (400, 404), (what, method, r.status_code)
                if r.status_code == 400:
                    assert "Lenken er ugyldig, ufullstendig eller utløpt." in r.text, what
    assert unsubscribed(web_env.url) == []


def test_a_form_post_without_a_valid_form_token_is_refused_403(web_env):
    server = web_env.web()
    token = web_env.token()
    other = web_env.token(member="00009")
    page = httpx.get(f"{server.url}/avmeld/{other}")
    for form in ({"handling": "avmeld"},  # none
                 {"handling": "avmeld", "skjema": "1700000000.00000000000000000000000000000000"},  # forged
                 {"handling": "avmeld", "skjema": form_token(page.text)},  # another token's form
                 {"handling": "avmeld", "skjema": "0." + form_token(page.text).split(".")[1]}):  # replayed, old
        r = httpx.post(f"{server.url}/avmeld/{token}", data=form)
        assert r.status_code == 403, form
        assert "Skjemaet kunne ikke sendes" in r.text
    assert unsubscribed(web_env.url) == []


def test_the_token_endpoints_are_rate_limited_per_address(web_env):
    server = web_env.web()
    token = web_env.token()
    with from_address(2) as guesser:  # trying tokens: after 10 refused, even a good one waits
        codes = [guesser.get(f"{server.url}/avmeld/{token[:-2]}").status_code for _ in range(10)]
        assert codes == [400] * 10
        r = guesser.get(f"{server.url}/avmeld/{token}")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "For mange forespørsler" in r.text
        assert guesser.get(f"{server.url}/healthz").status_code == 200  # other paths are not limited
    with from_address(3) as provider:  # a mail provider posting many members' one-click: 60 at once
        codes = [provider.post(f"{server.url}/avmeld/{web_env.token(member=f'{i:05d}')}",
                               data={"List-Unsubscribe": "One-Click"}).status_code for i in range(90)]
        assert codes[:60] == [200] * 60 and 429 in codes  # then 120 a minute (2 a second refill meanwhile)
    assert httpx.get(f"{server.url}/avmeld/{token}").status_code == 200  # 127.0.0.1 was not held up


def test_security_headers_size_limit_and_health(web_env):
    server = web_env.web()
    r = httpx.get(f"{server.url}/avmeld/{web_env.token()}")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert "server" not in r.headers
    big = httpx.post(f"{server.url}/avmeld/{web_env.token()}", content=b"x" * 100_000,
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413 and big.text == "Forespørselen er for stor."
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.text == "ok\n"
    css = httpx.get(f"{server.url}/_aarshjul/stil.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# --- the site and its feeds ----------------------------------------------------------------


@pytest.fixture
def published(web_env, files):
    from test_feeds import Site

    site = Site(files, web_env.tmp / "pub")
    site.dir = web_env.site_dir
    site.publish(today=date(2025, 1, 10))
    yield site
    site.engine.dispose()


def test_feeds_carry_etag_last_modified_and_answer_304(web_env, published):
    server = web_env.web()
    token = published.tokens["medlemmer"]
    for path in ("/calendars/offentlig.ics", f"/calendars/{token}/medlemmer.ics"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/calendar; charset=utf-8"
        assert r.text.startswith("BEGIN:VCALENDAR")
        assert r.content == (web_env.site_dir / path.lstrip("/")).read_bytes()
        etag, modified = r.headers["etag"], r.headers["last-modified"]
        assert "max-age=" in r.headers["cache-control"]
        again = httpx.get(server.url + path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert httpx.get(server.url + path, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
        assert httpx.get(server.url + path, headers={"If-Modified-Since": modified}).status_code == 304
        assert httpx.get(server.url + path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert httpx.get(server.url + path, headers={"If-None-Match": '"other"',
                                                     "If-Modified-Since": modified}).status_code == 200
        assert httpx.get(server.url + path, headers={
            "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
        head = httpx.head(server.url + path)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert "private" in httpx.get(f"{server.url}/calendars/{token}/medlemmer.ics").headers["cache-control"]
    assert "public" in httpx.get(f"{server.url}/calendars/offentlig.ics").headers["cache-control"]
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "'sha256-" in page.headers["content-security-policy"]  # the page's own <style>, by its hash


def test_a_changed_feed_gets_a_new_etag(web_env, published, files):
    server = web_env.web()
    path = "/calendars/offentlig.ics"
    etag = httpx.get(server.url + path).headers["etag"]
    from test_feeds import DST_PINS

    files.write("schedule.yaml", DST_PINS)
    published.publish(today=date(2025, 1, 10))
    r = httpx.get(server.url + path, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag


def test_unknown_rotated_and_hidden_paths_are_the_same_plain_404(web_env, published):
    from aarshjul.db.calendars import rotate_token

    server = web_env.web()
    old = published.tokens["medlemmer"]
    assert httpx.get(f"{server.url}/calendars/{old}/medlemmer.ics").status_code == 200
    with session_scope(published.engine) as session:
        rotate_token(session, ORG, "medlemmer", datetime.now(timezone.utc))
    published.publish(today=date(2025, 1, 10))
    assert published.tokens["medlemmer"] != old
    # the old token's feed left behind by hand (as a publish before the manifest would)
    stale = web_env.site_dir / "calendars" / old
    stale.mkdir(exist_ok=True)
    (stale / "medlemmer.ics").write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    never = "A" * 32
    answers = [httpx.get(server.url + p) for p in (
        f"/calendars/{old}/medlemmer.ics", f"/calendars/{never}/medlemmer.ics", f"/calendars/{old}/",
        f"/calendars/{published.tokens['medlemmer']}/", f"/calendars/{published.tokens['medlemmer']}/index.html",
        "/calendars/", "/.aarshjul-manifest.json", "/calendars/../secret.key", "/calendars/%2e%2e/web.db",
        f"/calendars/{published.tokens['medlemmer']}/nope.ics")]
    for r in answers:
        assert (r.status_code, r.content, r.headers["content-type"]) == (404, "Ikke funnet".encode(),
                                                                         "text/plain; charset=utf-8"), r.url
    assert httpx.get(f"{server.url}/calendars/{published.tokens['medlemmer']}/medlemmer.ics").status_code == 200
    assert old not in server.output() and published.tokens["medlemmer"] not in server.output()


def test_the_letters_unsubscribe_urls_reach_the_route_aarshjul_web_answers(bundled, minimal):
    from aarshjul.cli_web import unsubscribe_url_problem

    for plan in (bundled, minimal):
        assert unsubscribe_url_problem(plan.mail.unsubscribe.url, None) is None, plan.mail.unsubscribe.url
    assert unsubscribe_url_problem("https://test.example.org/avmeld/{token}", "https://test.example.org/") is None
    assert "does not end in /avmeld/{token}" in unsubscribe_url_problem("https://x.example.org/unsub?t={token}", None)
    assert "is not AARSHJUL_SITE_URL" in unsubscribe_url_problem("https://x.example.org/avmeld/{token}",
                                                                 "https://y.example.org")


def test_aarshjul_web_warns_when_the_letters_links_would_not_reach_it(web_env, files):
    files.edit("mail.yaml", "url: https://test.example.org/avmeld/{token}", "url: https://old.example.org/avmeld/{token}")
    server = web_env.web()
    assert ("avmeldingsadressen https://old.example.org/avmeld/{token} i mail.yaml er ikke AARSHJUL_SITE_URL "
            "https://test.example.org fulgt av /avmeld/{token}") in server.output()  # the operator's language: nb


def test_the_web_service_never_imports_prefect():
    import subprocess
    import sys

    code = ("import sys, aarshjul.cli_web, aarshjul.web.app, aarshjul.web.answers, aarshjul.web.site; "
            "print('prefect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
