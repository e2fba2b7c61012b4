"""Benchmark: personalised member letters to a local SMTP sink in another process.

Sends N messages of the member letter through aarshjul's ledger and transport (each
message rendered for its member and composed, ledger rows claimed and committed per
batch of 200 so a crash leaves at most one batch in doubt, the rate limiter on every
send, each message rendered while the server takes the one before, over one connection
or `?connections=C`), and, in the same run, a bare smtplib loop sending the same number of pre-rendered messages
over one connection. Prints messages per second for both and their ratio (goal >= 1.0x),
for one connection and for C, over R runs interleaved with bare ones (each run against the
faster bare run beside it; the median and the spread: the machine may be shared); the CPU
a message costs aarshjul; aarshjul's peak memory (max RSS of the sending process)
for N/10 and N messages (goal: at most 1.5x, i.e. streaming, not loading everyone at
once); and the Prefect task runs of one real `aarshjul newsletter send` of N/10 members
against a Prefect server (goal: at most one per 100 recipients).

    .venv/bin/python bench/mail_send.py [N] [C] [R]
"""

from __future__ import annotations

import json
import os
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


def setup(n: int, tmp: Path) -> tuple[object, str]:
    """The test plan (tests/data/minimal) and a SQLite database with n members."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import PlanFiles

    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope

    files = PlanFiles(tmp / "plan")
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        session.execute(Member.__table__.insert(), [dict(
            organisation="test-org", number=f"{i:06d}", first_name=f"Fornavn{i}", last_name="Etternavn",
            email=f"m{i}@example.org", branch="nord", status="active", activist=False, first_seen=now,
            updated_at=now, row_hash="x") for i in range(n)])
    engine.dispose()
    return files, url


def ours(n: int, smtp_url: str, tmp: Path) -> dict:
    """Runs in its own process: returns seconds and this process's peak RSS."""
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.editions import parse_edition
    from aarshjul.domain.campaigns import content_path, newsletter_campaign
    from aarshjul.tasks.mail_render import read_edition_text
    from aarshjul.tasks.mail_transport import SmtpTransport
    from aarshjul.tasks.mailer import Mailer, secret_key

    files, url = setup(n, tmp)
    plan = files.load()  # type: ignore[attr-defined]
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    nl = next(x for x in plan.mail.newsletters if x.id == "nyhetsbrev")
    ed = parse_edition(plan, nl, "2025-03")[0]
    campaign = newsletter_campaign(plan, nl, ed, now.date(), read_edition_text(content_path(plan, nl, ed)))
    start, cpu = time.perf_counter(), time.process_time()
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
        mailer.close()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return {"seconds": seconds, "sent": sent, "max_rss_kb": _peak_rss_kb(), "cpu": cpu}


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


def task_runs(n: int, smtp_url: str) -> dict:
    """One real `aarshjul newsletter send` of n members against a Prefect server; the
    task runs it made, counted through the server's API."""
    import httpx

    sys.path.insert(0, str(ROOT / "bench"))
    from prefect_server import prefect_server

    tmp = Path(tempfile.mkdtemp())
    try:
        files, url = setup(n, tmp)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AARSHJUL_")},
               "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "AARSHJUL_DATABASE_URL": url, "AARSHJUL_PLAN": str(files.plan),  # type: ignore[attr-defined]
               "AARSHJUL_SMTP_URL": smtp_url, "AARSHJUL_SECRET_KEY_FILE": str(tmp / "secret.key")}
        with prefect_server(env) as api:
            done = subprocess.run([sys.executable, "-m", "aarshjul", "newsletter", "send", "nyhetsbrev", "--edition",
                                   "2025-03", "--today", "2025-03-02"], env={**env, "PREFECT_API_URL": api},
                                  capture_output=True, text=True, timeout=3600, cwd=tmp)
            if done.returncode != 0:
                raise SystemExit(f"newsletter send failed ({done.returncode}): {done.stderr[-2000:]}")
            tasks = httpx.post(f"{api}/task_runs/count", json={}, timeout=30).json()
            flows = httpx.post(f"{api}/flow_runs/count", json={}, timeout=30).json()
        return {"recipients": n, "task_runs": tasks, "flow_runs": flows}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        sink.stdout.readline()
        url = f"smtp://127.0.0.1:{port}"
        # bare, ours (1 connection), ours (C), bare, ...: each of ours against the faster of the
        # bare runs just before and just after it (the machine is shared, so the harder goal)
        bares = [bare(n, port)]
        runs: list[tuple[dict, dict]] = []
        for _ in range(repeat):
            runs.append((run_ours(n, url + "?connections=1"), run_ours(n, f"{url}?connections={connections}")))
            bares.append(bare(n, port))
        small = run_ours(n // 10, f"{url}?connections={connections}")
        prefect = task_runs(n // 10, f"{url}?connections={connections}")
    finally:
        sink.stdin.close()
        sink.wait(timeout=30)
    print(f"messages:                    {n} a run, {repeat} runs; each against the faster bare run beside it")
    print("bare smtplib loop:           " + ", ".join(f"{n / t:.0f}" for t in bares)
          + " msg/s  (one connection, messages rendered beforehand)")
    for i, label in ((0, "aarshjul, 1 connection:"), (1, f"aarshjul, {connections} connections:")):
        ratios, rates = [], []
        for k, pair in enumerate(runs):
            r = pair[i]
            rates.append(r["sent"] / r["seconds"])
            ratios.append(min(bares[k], bares[k + 1]) / r["seconds"])
        print(f"{label:<29}" + ", ".join(f"{x:.0f}" for x in rates) + " msg/s  ratio "
              + ", ".join(f"{x:.2f}x" for x in ratios)
              + f"  (median {sorted(ratios)[len(ratios) // 2]:.2f}x, spread {min(ratios):.2f}-{max(ratios):.2f}x;"
              " goal >= 1.0x)")
    cpu = [pair[0]["cpu"] / pair[0]["sent"] * 1000 for pair in runs]
    print(f"CPU a message, 1 connection: {min(cpu):.2f}-{max(cpu):.2f} ms (render, compose, ledger, SMTP client)")
    big = runs[-1][1]
    print(f"peak RSS {n // 10:>6}:             {small['max_rss_kb'] / 1024:8.1f} MiB")
    print(f"peak RSS {n:>6}:             {big['max_rss_kb'] / 1024:8.1f} MiB")
    print(f"memory ratio:                {big['max_rss_kb'] / small['max_rss_kb']:8.2f}x  (goal <= 1.5x)")
    per_100 = 100 * prefect["task_runs"] / prefect["recipients"]
    print(f"Prefect task runs:           {prefect['task_runs']} for {prefect['recipients']} recipients "
          f"({per_100:.2f} per 100; goal <= 1), in {prefect['flow_runs']} flow run(s)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--ours":
        print(json.dumps(ours(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))))
    else:
        main()
