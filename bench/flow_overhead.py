"""Benchmark: what orchestration costs. A full `aarshjul run` of the bundled plan as
Prefect flows against an already running Prefect server, and the same work called as
plain functions, in the same run; prints both and their ratio (goal: below 2x).

    .venv/bin/python bench/flow_overhead.py

Starts its own Prefect server (SQLite under a temporary folder) on loopback.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from prefect_server import prefect_server  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
PLAN = str(ROOT / "config" / "plan.yaml")
TODAY = date(2026, 11, 29)
RUNS = 3


def plain(tmp: Path) -> None:
    """The work of `aarshjul run`, without Prefect: the same calls in the same order."""
    from aarshjul.db.agenda import held_keys, store_agenda
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.calendars import entries, feed_tokens
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.editions import due_editions
    from aarshjul.domain.expand import expand
    from aarshjul.domain.feeds import feeds
    from aarshjul.domain.gaps import find_gaps
    from aarshjul.domain.load import load_plan
    from aarshjul.domain.reminders import due_reminders
    from aarshjul.domain.campaigns import EditionNotReady, content_path, newsletter_campaign, reminder_campaign
    from aarshjul.tasks.mail_render import read_edition_text
    from aarshjul.tasks.mail_transport import OutboxTransport
    from aarshjul.tasks.mailer import Mailer, secret_key
    from aarshjul.tasks.site import write_site

    url = os.environ["AARSHJUL_DATABASE_URL"]
    plan = load_plan(PLAN)
    occ = expand(plan)
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with session_scope(engine) as s:
        store_agenda(s, plan.organisation.id, occ, now)
        find_gaps([o for o in occ if o.span.overlaps_year(TODAY.year)], TODAY, held_keys(s, plan.organisation.id))
        stored = entries(s, plan.organisation.id, plan.tz)
        tokens = feed_tokens(s, plan.organisation.id, [f.id for f in feeds(plan) if not f.public], now)
    write_site(plan, stored, tokens, tmp / "site", now, TODAY)
    with session_scope(engine) as s:
        mailer = Mailer(s, OutboxTransport(tmp / "outbox"), secret_key(tmp / "secret.key"))
        for n in plan.mail.newsletters:
            for ed in due_editions(plan, n, TODAY):
                try:
                    c = newsletter_campaign(plan, n, ed, TODAY, read_edition_text(content_path(plan, n, ed)))
                except EditionNotReady:
                    continue
                mailer.prepare(c, audience_candidates(s, plan.organisation.id, {"branch": ed.branch} if ed.branch
                                                      else n.audience.model_dump(exclude_defaults=True)))
                while mailer.send_batch(c, 200, 1).claimed:
                    pass
        for r in due_reminders(occ, TODAY, plan.mail.reminders, held_keys(s, plan.organisation.id)):
            c = reminder_campaign(plan, r)
            mailer.prepare(c, [(b, plan.bodies[b].contact) for b in r.occurrence.bodies])
            while mailer.send_batch(c, 200, 1).claimed:
                pass
    engine.dispose()


def orchestrated(_: Path) -> None:
    """As `aarshjul run` does it: through aarshjul.runtime (no heartbeat for a run at hand)."""
    from aarshjul.flows.run import run_all
    from aarshjul.runtime import run_flow

    run_flow(run_all, plan_path=PLAN, today=TODAY)


def best(fn, tmp: Path, label: str) -> float:
    """Best of RUNS, each on a fresh database and site: the full work of a first run."""
    times = []
    for i in range(RUNS):
        run = tmp / f"{label}-{i}"
        os.environ.update({"AARSHJUL_DATABASE_URL": f"sqlite:///{run / 'bench.db'}",
                           "AARSHJUL_SITE_DIR": str(run / "site"), "AARSHJUL_OUTBOX_DIR": str(run / "outbox")})
        from aarshjul.settings import get_settings

        get_settings.cache_clear()
        start = time.perf_counter()
        fn(run)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with prefect_server(env) as api:
        os.environ.update({"PREFECT_API_URL": api, "PREFECT_HOME": str(tmp / "prefect"),
                           "AARSHJUL_SECRET_KEY_FILE": str(tmp / "secret.key"), "PREFECT_LOGGING_LEVEL": "WARNING"})
        best(orchestrated, tmp, "warm")  # imports, the server's first flow runs
        t_flows, t_plain = best(orchestrated, tmp, "flows"), best(plain, tmp, "plain")
    print(f"aarshjul run as Prefect flows: {t_flows:6.2f} s (best of {RUNS}, server already running)")
    print(f"same work as plain functions:  {t_plain:6.2f} s")
    print(f"orchestration overhead ratio:  {t_flows / t_plain:6.2f}x  (goal < 2x)")


if __name__ == "__main__":
    main()
