"""Issue 15 items 5 and 7 (the site): weak keys, readable tokens, listable feed folders,
and publishing that removed or crashed on what it had not written.

Each test starts from the input that broke it:
- `secret.key` empty, one byte, 31 bytes, or not hexadecimal (accepted as an HMAC key,
  or a traceback);
- an unsubscribe token whose first part decodes to `org\\0audience\\0member`;
- `calendars/` served by a web server that lists folders (Python's http.server);
- a folder of someone else's under calendars/ (removed with rmtree), and a symlink there
  (publishing crashed, and with it all mail in `run`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import os
import subprocess
import sys
import threading
import urllib.request
from functools import partial
from pathlib import Path

import pytest

from aarshjul.domain.errors import AarshjulError
from aarshjul.domain.messages import BadToken, read_token, unsubscribe_token
from aarshjul.tasks.mailer import secret_key
from test_feeds import T0, site  # noqa: F401  (the fixture)

from conftest import ROOT

KEY = bytes(range(32))


# --- the secret key ------------------------------------------------------------------------


@pytest.mark.parametrize("content, why", [
    ("", "is empty"),
    ("\n", "is empty"),
    ("ab\n", "has 1 bytes, fewer than 32"),
    ("00" * 31 + "\n", "has 31 bytes, fewer than 32"),
    ("not a key at all, just text\n", "is not hexadecimal"),
    ("zz" * 32, "is not hexadecimal"),
])
def test_a_weak_or_malformed_key_is_refused_naming_the_file(tmp_path, content, why):
    path = tmp_path / "secret.key"
    path.write_text(content)
    with pytest.raises(AarshjulError) as caught:
        secret_key(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path} (AARSHJUL_SECRET_KEY_FILE): the secret key {why}")
    assert "secrets.token_hex(32)" in message and "remove it" in message
    assert caught.value.exit_status == 2


def test_a_weak_key_stops_the_unsubscribe_command_in_one_line(tmp_path, files):
    (tmp_path / "secret.key").write_text("ab\n")
    result = subprocess.run(
        [sys.executable, "-m", "aarshjul", "unsubscribe", "x.y", "--plan", str(files.plan)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
             "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "COLUMNS": "200"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "secret.key (AARSHJUL_SECRET_KEY_FILE): the secret key has 1 bytes, fewer than 32" in line


def test_a_new_key_is_64_hex_digits_owner_only_and_the_same_on_every_read(tmp_path):
    path = tmp_path / "var" / "secret.key"
    old = os.umask(0o022)
    try:
        first = secret_key(path)
    finally:
        os.umask(old)
    assert len(first) == 32 and secret_key(path) == first
    assert path.read_text() == first.hex() + "\n" and (path.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left


def test_two_first_runs_at_once_agree_on_one_key(tmp_path):
    path = tmp_path / "secret.key"
    script = ("import sys; from pathlib import Path; from aarshjul.tasks.mailer import secret_key; "
              "print(secret_key(Path(sys.argv[1])).hex())")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert keys == {path.read_text().strip()}


# --- opaque unsubscribe tokens --------------------------------------------------------------


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_an_unsubscribe_token_does_not_show_whom_it_names():
    token = unsubscribe_token(KEY, "bergen-sv", "medlemmer/arna", "123456")
    raw = b"".join(_unb64(part) for part in token.split("."))
    for visible in (b"bergen-sv", b"medlemmer", b"arna", b"123456"):
        assert visible not in raw and visible.decode() not in token
    assert read_token(KEY, token) == ("bergen-sv", "medlemmer/arna", "123456")
    assert unsubscribe_token(KEY, "bergen-sv", "medlemmer/arna", "123456") == token  # stable per member
    assert unsubscribe_token(KEY, "bergen-sv", "medlemmer/arna", "123457") != token
    with pytest.raises(BadToken):
        read_token(bytes(32), token)  # another installation's key


@pytest.mark.parametrize("change", ["first part", "tag", "version"])
def test_an_altered_opaque_token_is_refused(change):
    token = unsubscribe_token(KEY, "bergen-sv", "medlemmer", "123456")
    first, tag = (bytearray(_unb64(p)) for p in token.split("."))
    target, index = {"first part": (first, 20), "tag": (tag, 3), "version": (first, 0)}[change]
    target[index] ^= 0x01
    bad = base64.urlsafe_b64encode(bytes(first)).decode().rstrip("=") + "." + \
        base64.urlsafe_b64encode(bytes(tag)).decode().rstrip("=")
    with pytest.raises(BadToken):
        read_token(KEY, bad)


def test_a_token_in_a_letter_sent_before_still_unsubscribes():
    payload = b"bergen-sv\x00medlemmer\x00123456"  # the earlier format: readable, HMAC-signed
    legacy = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + base64.urlsafe_b64encode(
        hmac.new(KEY, payload, hashlib.sha256).digest()[:16]).decode().rstrip("=")
    assert read_token(KEY, legacy) == ("bergen-sv", "medlemmer", "123456")
    with pytest.raises(BadToken):
        read_token(bytes(32), legacy)


# --- the site: nothing to list, nothing removed that aarshjul did not write ----------------------


def _serve(folder: Path):
    """Python's http.server, which lists any folder without an index.html."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_web_server_that_lists_folders_shows_no_token(site):  # noqa: F811
    site.publish()
    server = _serve(site.dir)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        pages = [urllib.request.urlopen(f"{base}/calendars/").read()]
        pages += [urllib.request.urlopen(f"{base}/calendars/{t}/").read() for t in site.tokens.values()]
        manifest = urllib.request.urlopen(f"{base}/.aarshjul-manifest.json").read()
        public = urllib.request.urlopen(f"{base}/calendars/offentlig.ics").read()
    finally:
        server.shutdown()
        server.server_close()
    assert all(page == b"" for page in pages)  # an empty index.html, not a listing
    assert b"BEGIN:VCALENDAR" in public
    for token in site.tokens.values():
        assert token.encode() not in manifest  # the manifest names paths by their hash


def test_publishing_leaves_what_it_did_not_write_and_removes_what_it_did(site, tmp_path):  # noqa: F811
    site.publish()
    calendars = site.dir / "calendars"
    (calendars / "arkiv").mkdir()
    (calendars / "arkiv" / "2019.ics").write_text("someone's archive")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not aarshjul's")
    (calendars / "lenke").symlink_to(outside, target_is_directory=True)
    (calendars / "fil-lenke.ics").symlink_to(outside / "keep.txt")
    old = dict(site.tokens)

    from aarshjul.db.calendars import rotate_token
    from aarshjul.db.session import session_scope

    with session_scope(site.engine) as session:
        rotate_token(session, "test-org", "styret", T0)
    site.publish()  # on the old code: rmtree of calendars/arkiv, then OSError on the symlink

    assert (calendars / "arkiv" / "2019.ics").read_text() == "someone's archive"
    assert (calendars / "lenke").is_symlink() and (outside / "keep.txt").read_text() == "not aarshjul's"
    assert (calendars / "fil-lenke.ics").is_symlink()
    assert not (calendars / old["styret"]).exists()  # what it wrote under the rotated token is gone
    assert (calendars / site.tokens["styret"] / "styret.ics").exists()
    assert (calendars / site.tokens["styret"] / "index.html").read_bytes() == b""
    assert all((calendars / t).is_dir() for f, t in site.tokens.items() if f != "styret")


def test_a_token_folder_replaced_by_a_symlink_is_not_written_through(site, tmp_path):  # noqa: F811
    site.publish()
    token_folder = site.dir / "calendars" / site.tokens["medlemmer"]
    for child in token_folder.iterdir():
        child.unlink()
    token_folder.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    token_folder.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(AarshjulError) as caught:
        site.publish()
    assert "is a symlink" in str(caught.value) and str(token_folder) in str(caught.value)
    assert list(elsewhere.iterdir()) == []


def test_readme_says_how_to_serve_the_site_safely():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Serving the site safely" in readme and "autoindex" in readme
