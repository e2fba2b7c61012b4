"""Benchmark: personalised member letters to a local SMTP sink in another process.

Sends N messages of the member letter through aarshjul's ledger and transport
(render, compose, ledger rows committed per batch, one reused connection), and, in the
same run, a bare smtplib loop sending the same number of pre-rendered messages over
one connection. Prints messages per second for both and their ratio (goal >= 0.5x),
and aarshjul's peak memory (max RSS of the sending process) for 2,000 and 20,000
messages (goal: at most 1.5x, i.e. streaming, not loading everyone at once).

    .venv/bin/python bench/mail_send.py [N]
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class H:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        H.count += 1
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ours(n: int, smtp_url: str, tmp: Path) -> dict:
    """Runs in its own process: returns seconds and this process's peak RSS."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import PlanFiles

    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.editions import parse_edition
    from aarshjul.domain.campaigns import content_path, newsletter_campaign
    from aarshjul.tasks.mail_render import read_edition_text
    from aarshjul.tasks.mail_transport import SmtpTransport
    from aarshjul.tasks.mailer import Mailer, secret_key

    files = PlanFiles(tmp / "plan")
    plan = files.load()
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        session.execute(Member.__table__.insert(), [dict(
            organisation="test-org", number=f"{i:06d}", first_name=f"Fornavn{i}", last_name="Etternavn",
            email=f"m{i}@example.org", branch="nord", status="active", activist=False, first_seen=now,
            updated_at=now, row_hash="x") for i in range(n)])
    nl = next(x for x in plan.mail.newsletters if x.id == "nyhetsbrev")
    ed = parse_edition(plan, nl, "2025-03")[0]
    campaign = newsletter_campaign(plan, nl, ed, now.date(), read_edition_text(content_path(plan, nl, ed)))
    start = time.perf_counter()
    with session_scope(engine) as session:
        transport = SmtpTransport(smtp_url)
        mailer = Mailer(session, transport, secret_key(tmp / "secret.key"), rate_per_second=1e9)
        mailer.prepare(campaign, audience_candidates(session, "test-org", {"all": True}))
        batch, sent = 0, 0
        while True:
            batch += 1
            r = mailer.send_batch(campaign, 200, batch)
            sent += r.sent
            if r.claimed == 0:
                break
        transport.close()
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"seconds": seconds, "sent": sent, "max_rss_kb": _peak_rss_kb()}


def _peak_rss_kb() -> int:
    """This process's own high-water mark (VmHWM; ru_maxrss would include the parent's
    before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bare(n: int, port: int) -> float:
    """smtplib over one connection, the messages rendered beforehand."""
    import smtplib
    from email.message import EmailMessage

    messages = []
    for i in range(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "post@example.org", f"m{i}@example.org", "Nyhetsbrev – mars 2025"
        m["Message-ID"] = f"<{i}@bench>"
        m.set_content(f"Hei Fornavn{i},\n\n" + "Styret fremmet forslag. " * 20)
        m.add_alternative(f"<p>Hei Fornavn{i},</p>" + "<p>Styret fremmet forslag.</p>" * 20, subtype="html")
        messages.append(m)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for m in messages:
            conn.send_message(m)
    return time.perf_counter() - start


def run_ours(n: int, smtp_url: str) -> dict:
    tmp = Path(tempfile.mkdtemp())
    try:
        out = subprocess.run([sys.executable, __file__, "--ours", str(n), smtp_url, str(tmp)],
                             capture_output=True, text=True, check=True, timeout=3600)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        sink.stdout.readline()
        url = f"smtp://127.0.0.1:{port}"
        small = run_ours(n // 10, url)
        big = run_ours(n, url)
        t_bare = bare(n, port)
    finally:
        sink.stdin.close()
        sink.wait(timeout=30)
    rate_ours, rate_bare = big["sent"] / big["seconds"], n / t_bare
    print(f"messages:            {n} (aarshjul sent {big['sent']})")
    print(f"bare smtplib loop:   {rate_bare:8.0f} msg/s")
    print(f"aarshjul:            {rate_ours:8.0f} msg/s")
    print(f"ratio:               {rate_ours / rate_bare:8.2f}x  (goal >= 0.5x)")
    print(f"peak RSS {n // 10:>6}:     {small['max_rss_kb'] / 1024:8.1f} MiB")
    print(f"peak RSS {n:>6}:     {big['max_rss_kb'] / 1024:8.1f} MiB")
    print(f"memory ratio:        {big['max_rss_kb'] / small['max_rss_kb']:8.2f}x  (goal <= 1.5x)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--ours":
        print(json.dumps(ours(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))))
    else:
        main()
