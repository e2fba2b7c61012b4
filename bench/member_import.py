"""Benchmark: importing a 50 MB member export, time and peak memory.

Writes an export as the register's Excel gives it (Windows-1252, `;`, CRLF, every
documented column plus two it ignores) of about 50 MB, and runs
`aarshjul members import` on it twice in a fresh SQLite database, each time in a
subprocess whose peak memory (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, read in a
wrapper process that runs nothing else) and wall time are printed: the first import
adds every member, the second finds them all unchanged. Goal: at most 300 MB each.

    .venv/bin/python bench/member_import.py [MEGABYTES]
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2025-11-29"
HEADER = ["Medlemsnummer", "Fornavn", "Etternavn", "Adresse", "Postnummer", "Poststed", "E-post", "Mobil",
          "Innmeldt", "Kontingent betalt", "Lag", "Aktivist", "Roller"]
FIRST = ["Kari", "Ola", "Åse", "Øystein", "Ingrid", "Håkon", "Sølvi", "Bjørn", "Marit", "Jørgen", "Astrid", "Pål"]
LAST = ["Nordmann", "Ås", "Læreid", "Sæther", "Bø", "Haugland", "Kvåle", "Strøm", "Berg", "Fjære"]
POSTCODES = ["5003", "5011", "5021", "5031", "5131", "5145", "5171", "5221", "5254", "5265", "5999"]

# Runs the command and prints its peak memory (kB) and wall time: RUSAGE_CHILDREN here
# covers only that one child.
_WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - started)
"""


def write_export(path: Path, megabytes: float, seed: int = 1311) -> int:
    """An export of about `megabytes` MB; returns the number of members."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    size, n = 0, 0
    with path.open("w", encoding="cp1252", newline="") as f:
        line = ";".join(HEADER) + "\r\n"
        f.write(line)
        size += len(line)
        while size < target:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            cells = [str(100000 + n), first, last, f"{rng.choice(LAST)}veien {rng.randrange(1, 80)}",
                     rng.choice(POSTCODES), "BERGEN", f"m{n}@example.org", f"9{rng.randrange(10 ** 7):07d}",
                     f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.{rng.randrange(1990, 2025)}",
                     rng.choice(["Ja", "Nei", ""]), rng.choice(["", "", "Årstad SV"]), rng.choice(["Ja", "Nei", ""]),
                     rng.choice(["", "", "", "styret"])]
            line = ";".join(cells) + "\r\n"
            f.write(line)
            size += len(line)
            n += 1
    return n


def run_import(export: Path, database: Path) -> tuple[int, float, float]:
    """(exit status, peak MB, seconds) of one `aarshjul members import`."""
    command = [sys.executable, "-m", "aarshjul", "members", "import", str(export), "--plan",
               str(ROOT / "config" / "plan.yaml"), "--today", TODAY, "--allow-many-left"]
    env = {**os.environ, "AARSHJUL_DATABASE_URL": f"sqlite:///{database}"}
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), int(out[1]) / 1024, float(out[2])


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "medlemmer.csv"
        members = write_export(export, megabytes)
        print(f"export: {export.stat().st_size / 2**20:.1f} MB, {members:,} members (Windows-1252, ';')")
        for label in ("first import (all new)", "same file again (all unchanged)"):
            status, peak, seconds = run_import(export, Path(tmp) / "aarshjul.db")
            print(f"{label:34} exit {status}  peak {peak:7.0f} MB  {seconds:6.1f} s")
    print("goal: peak <= 300 MB")


if __name__ == "__main__":
    sys.exit(main())
