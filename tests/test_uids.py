"""Three UIDs of the bundled plan, pinned as literals.

A UID is what a calendar app keys an event on: if the scheme that makes them changes
(the namespace, the name hashed, the key format), every subscriber gets every event
twice. The other tests compare UIDs with the function that makes them, so a change
there passes unseen; these literals were computed once (2026-11-29) and must never
change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

PINNED = {
    "1.5/2026/2": "b38b5f43-3209-52a1-9626-5969043453c6",  # the second new-member meeting of 2026 (a quota slot)
    "2.8/2026-H1": "e88fe4d6-31f7-580c-92cd-0d13eacd657b",  # the board + council-group gathering, first half
    "3.4/2026/arbeidernes-dag": "538ea4dc-cb47-579e-b438-04fc118396c1",  # 1 May 2026 (an annual date)
}


def test_three_uids_of_the_bundled_plan_are_the_pinned_literals(bundled):
    from aarshjul.domain.expand import expand

    uids = {o.key: o.uid for o in expand(bundled) if o.key in PINNED}
    assert uids == PINNED


def test_the_agenda_command_publishes_the_same_literal_uids(tmp_path):
    result = subprocess.run([sys.executable, "-m", "aarshjul", "agenda", "--from", "2026-01-01", "--to", "2026-12-31",
                             "--format", "json", "--plan", str(ROOT / "config" / "plan.yaml")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"})
    assert result.returncode == 0, result.stderr
    uids = {o["key"]: o["uid"] for o in json.loads(result.stdout) if o["key"] in PINNED}
    assert uids == PINNED
