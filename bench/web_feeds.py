"""Benchmark: calendar clients polling private feeds with If-None-Match.

The bundled plan is published to a temporary site folder; then, in this run, the same
load is put on two servers, each a uvicorn process on loopback serving that folder:

    aarshjul web                     `python -m aarshjul web` (manifest lookup, ETag, headers)
    bare StaticFiles (baseline)      Starlette's StaticFiles(directory=site), nothing else

Each of N clients keeps one HTTP/1.1 connection open and polls one private feed (the
clients spread over the feeds) with the ETag it got first, as fast as the server
answers, for the given seconds (in three turns per server, alternating, since the machine
is shared); every answer must be a 304. Prints requests per second
and p50/p99 latency for both and the ratio aarshjul/baseline (goal: >= 0.8x). The
clients are one asyncio process with hand-written HTTP (httpx would be the bottleneck).

    .venv/bin/python bench/web_feeds.py [--clients 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from prefect_server import free_port  # noqa: E402

NOW = datetime(2026, 1, 5, tzinfo=timezone.utc)
ROUNDS = 3

BARE = """
import sys, uvicorn
from starlette.staticfiles import StaticFiles
uvicorn.run(StaticFiles(directory=sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), access_log=False,
            log_level="warning")
"""


def publish(folder: Path) -> tuple[Path, list[str], dict[str, str]]:
    """The bundled plan's site in `folder`; (site dir, private feed paths, env for aarshjul web)."""
    from aarshjul.db.agenda import store_agenda
    from aarshjul.db.calendars import feed_entries, feed_tokens
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.expand import expand
    from aarshjul.domain.feeds import feeds
    from aarshjul.domain.load import load_plan
    from aarshjul.tasks.site import feed_path, write_site

    plan_path = ROOT / "config" / "plan.yaml"
    plan = load_plan(plan_path)
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        store_agenda(session, plan.organisation.id, expand(plan), NOW)
        stored = feed_entries(session, plan, NOW)
        private = [f for f in feeds(plan) if not f.public]
        tokens = feed_tokens(session, plan.organisation.id, [f.id for f in private], NOW)
    engine.dispose()
    site = folder / "site"
    write_site(plan, stored, tokens, site, NOW, date(2026, 1, 5))
    paths = ["/" + feed_path(f.id, False, tokens) for f in private]
    env = {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_PLAN": str(plan_path), "AARSHJUL_SITE_DIR": str(site),
           "AARSHJUL_SECRET_KEY_FILE": str(folder / "secret.key")}
    return site, paths, env


def start(args: list[str], env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server {args} did not start")


async def client(port: int, path: str, etag: str, until: float, latencies: list[float], bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-calendar\r\n"
               f"If-None-Match: {etag}\r\nAccept: text/calendar\r\n\r\n").encode()
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 304:
                bad.append(status)
    finally:
        writer.close()


async def load(port: int, paths: list[str], clients: int, seconds: float) -> tuple[int, float, list[float], int]:
    """(requests answered, seconds taken, their latencies, answers other than 304)."""
    etags = {}
    async with httpx.AsyncClient() as c:
        for p in paths:
            r = await c.get(f"http://127.0.0.1:{port}{p}")
            assert r.status_code == 200, (p, r.status_code)
            etags[p] = r.headers["etag"]
    latencies: list[float] = []
    bad: list[int] = []
    start_at = time.perf_counter()
    until = start_at + seconds
    await asyncio.gather(*(client(port, paths[i % len(paths)], etags[paths[i % len(paths)]], until, latencies, bad)
                           for i in range(clients)))
    return len(latencies), time.perf_counter() - start_at, latencies, len(bad)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site, paths, env = publish(folder)
        servers = {
            "aarshjul web": [sys.executable, "-m", "aarshjul", "web", "--host", "127.0.0.1"],
            "bare StaticFiles": [sys.executable, "-c", BARE, str(site)],
        }
        ports, procs = {}, {}
        try:
            for name, command in servers.items():
                ports[name] = free_port()
                argv = command + (["--port", str(ports[name])] if name == "aarshjul web" else [str(ports[name])])
                procs[name] = start(argv, env, ports[name], folder)
                asyncio.run(load(ports[name], paths, min(args.clients, 20), 2))  # warm-up
            # the machine is shared: the servers take turns, in rounds, so that a busy
            # moment falls on both alike; each gets `seconds` in all
            totals: dict[str, list[float]] = {name: [] for name in servers}
            counts: dict[str, list[tuple[int, float, int]]] = {name: [] for name in servers}
            for _ in range(ROUNDS):
                for name in servers:
                    n, elapsed, latencies, bad = asyncio.run(
                        load(ports[name], paths, args.clients, args.seconds / ROUNDS))
                    totals[name] += latencies
                    counts[name].append((n, elapsed, bad))
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(10)
        results = {}
        for name in servers:
            q = statistics.quantiles(totals[name], n=100)
            n_all = sum(c[0] for c in counts[name])
            results[name] = (n_all / sum(c[1] for c in counts[name]), q[49] * 1000, q[98] * 1000,
                             sum(c[2] for c in counts[name]))
        print(f"{args.clients} clients polling {len(paths)} private feeds with If-None-Match for "
              f"{args.seconds:g} s against each server")
        for name, (rps, p50, p99, bad) in results.items():
            print(f"  {name:18} {rps:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   not 304: {bad}")
        ratio = results["aarshjul web"][0] / results["bare StaticFiles"][0]
        print(f"ratio aarshjul web / bare StaticFiles: {ratio:.2f}x (goal >= 0.8x)")


if __name__ == "__main__":
    main()
