"""A real IMAP server for the tests: Debian's Dovecot, started on a free loopback port
with its own configuration, mail and state in a temporary folder.

    server = Dovecot()                          # or the `dovecot` fixture
    server.url                                  imap://bounces:secret@127.0.0.1:PORT/INBOX?insecure_auth=true
    server.tls_url                              imaps://bounces:secret@127.0.0.1:TLSPORT/INBOX (a trustme CA:
                                                server.ca_file for SSL_CERT_FILE)
    server.append(raw, folder="INBOX")          drop a message in (IMAP APPEND)
    server.messages(folder)                     the raw messages a folder holds
    server.folders()                            the folders

Dovecot runs in the foreground (`dovecot -F -c CONF`) as a child of the test process and
is stopped with it. As root (CI) its login and mail processes run as Debian's `dovenull`
and `dovecot` users (Dovecot never gives mail access to UID 0); as anyone else, as that
user. Without `dovecot` on PATH (the Debian package dovecot-imapd) the tests skip, which
with CI=true fails the run: .ci/run installs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

USER, PASSWORD = "bounces", "secret"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self) -> None:
        if DOVECOT is None:
            pytest.skip("Dovecot is not installed (Debian: dovecot-imapd)")
        import tempfile

        import trustme

        # its own folder under /tmp, which Dovecot's users can reach (pytest's tmp_path is 0700 root's)
        folder = self.folder = Path(tempfile.mkdtemp(prefix="aarshjul-dovecot-"))
        folder.chmod(0o755)
        self.port, self.tls_port = _free_port(), _free_port()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        (folder / "key.pem").write_bytes(cert.private_key_pem.bytes())
        (folder / "cert.pem").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
        self.ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if os.geteuid() == 0:
            mail_user, login_user = pwd.getpwnam("dovecot"), "dovenull"
        else:
            mail_user = pwd.getpwuid(os.getuid())
            login_user = mail_user.pw_name
        self.mail = folder / "mail"
        for sub in (self.mail, folder / "home"):
            sub.mkdir(exist_ok=True)
            os.chown(sub, mail_user.pw_uid, mail_user.pw_gid) if os.geteuid() == 0 else None
        (folder / "run").mkdir(exist_ok=True)
        (folder / "state").mkdir(exist_ok=True)
        conf = folder / "dovecot.conf"
        conf.write_text(f"""
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = aarshjul-test-{self.port}
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {mail_user.pw_name}
default_internal_group = {_group(mail_user.pw_gid)}
default_login_user = {login_user}
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
first_valid_gid = 0
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{self.mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={folder}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._wait()
        self.url = f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?insecure_auth=true"
        self.tls_url = f"imaps://{USER}:{PASSWORD}@127.0.0.1:{self.tls_port}/INBOX"

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                log = (self.folder / "dovecot.log")
                raise RuntimeError(f"dovecot exited ({self.proc.returncode}): {out}\n"
                                   + (log.read_text(errors="replace") if log.exists() else ""))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not answer within 20 s")

    def client(self):
        from imapclient import IMAPClient

        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw)

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            fetched = c.fetch(uids, ["RFC822"]) if uids else {}
            return [fetched[u][b"RFC822"] for u in sorted(fetched)]

    def folders(self) -> list[str]:
        with self.client() as c:
            return sorted(name for _flags, _sep, name in c.list_folders())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _group(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


@pytest.fixture
def dovecot():
    server = Dovecot()
    try:
        yield server
    finally:
        server.stop()
