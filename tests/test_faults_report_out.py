"""Issue 15 item 7: `aarshjul report YEAR --out PATH` writes only where it should.

Each test starts from the input that broke it on the old code, as a real process:

- `--out /dev/null` run as root turned the device into a regular file (here a device
  node made in tmp_path, so the test never touches the machine's /dev/null);
- `--out newdir/` wrote a file named `newdir`;
- `--out FIFO` replaced the FIFO, `--out LINK` replaced a symlink (a clear rule now: never
  through a symlink at the last component, wherever it points);
- `--out FILE/x.md` (a file where a folder should be) and `--out /proc/x.md` ended in
  tracebacks.

What is refused exits 2 with one line and leaves the path as it was; a failure while
writing leaves the old report whole and no temporary file behind.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aarshjul.domain.errors import BadInput, ServiceError

YEAR = ("2025", "--format", "md", "--today", "2025-11-29")
NAME = "aarsrapport-test-org-2025.md"


@pytest.fixture
def run(files, tmp_path):
    """`aarshjul report 2025 --format md --out OUT` as a process on the minimal plan (no database)."""
    env = {**os.environ, "AARSHJUL_PLAN": str(files.plan),
           "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'aarshjul.db'}",
           "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "var" / "secret.key"), "COLUMNS": "300"}

    def report(out: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aarshjul", "report", *YEAR, "--out", out], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
    return report


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one line on stderr starting with `error:`, no traceback, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("feil: "), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout.strip()
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def no_temporary_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- the inputs that broke it ----------------------------------------------------------------


def test_a_device_is_refused_and_stays_a_device(run, tmp_path):
    """On the old code, as root: the device node replaced by a regular file holding the report."""
    device = tmp_path / "null"
    try:  # a device of our own (root only); a non-root user cannot replace /dev/null anyway
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        device = Path("/dev/null")
    before = os.lstat(device)
    refused(run(str(device)), str(device), "enhet")
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    no_temporary_files(tmp_path)


def test_a_fifo_is_refused_and_stays_a_fifo(run, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused(run(str(fifo)), str(fifo), "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    no_temporary_files(tmp_path)


@pytest.mark.parametrize("target", ["outside", "missing", "folder"])
def test_a_symlink_at_the_path_is_never_written_through_nor_replaced(run, tmp_path, target):
    """The rule: --out never names a symlink (to a file elsewhere, to nothing, to a folder)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "passwd").write_text("root:x:0:0\n")
    pointed = {"outside": elsewhere / "passwd", "missing": elsewhere / "nothing", "folder": elsewhere}[target]
    link = tmp_path / "report.md"
    link.symlink_to(pointed)
    refused(run(str(link)), str(link), "symbolsk lenke", str(pointed))
    assert link.is_symlink() and os.readlink(link) == str(pointed)
    assert (elsewhere / "passwd").read_text() == "root:x:0:0\n"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["passwd"]


def test_a_folder_given_as_the_file_is_refused(run, tmp_path):
    """`--out reports/` where the report's own name is a folder: nothing replaced."""
    (tmp_path / "reports" / NAME).mkdir(parents=True)
    refused(run(f"{tmp_path / 'reports'}/"), str(tmp_path / "reports" / NAME), "mappe")
    assert (tmp_path / "reports" / NAME).is_dir() and not list((tmp_path / "reports" / NAME).iterdir())


def test_a_trailing_slash_is_a_folder_created_with_the_default_name_inside(run, tmp_path):
    """On the old code `--out newdir/` wrote a file named newdir."""
    result = run("newdir/")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "newdir" / NAME
    assert written.is_file() and stat.S_IMODE(written.stat().st_mode) == 0o600
    assert str(Path("newdir") / NAME) in result.stdout
    assert written.read_text(encoding="utf-8").startswith("# Årsrapport 2025")


def test_an_existing_folder_gets_the_default_name_and_missing_parents_are_made(run, tmp_path):
    (tmp_path / "out").mkdir()
    assert run(str(tmp_path / "out")).returncode == 0
    assert (tmp_path / "out" / NAME).is_file()
    deep = tmp_path / "a" / "b" / "c" / "r.md"
    assert run(str(deep)).returncode == 0
    assert deep.is_file() and stat.S_IMODE(deep.stat().st_mode) == 0o600


def test_a_regular_file_is_replaced_whole(run, tmp_path):
    old = tmp_path / "r.md"
    old.write_text("the old report\n")
    old.chmod(0o644)
    assert run(str(old)).returncode == 0
    assert old.read_text(encoding="utf-8").startswith("# Årsrapport 2025")
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    no_temporary_files(tmp_path)


def test_a_file_where_a_folder_should_be_says_which(run, tmp_path):
    """On the old code: FileExistsError (a traceback) from mkdir."""
    (tmp_path / "f").write_text("a file\n")
    line = refused(run(str(tmp_path / "f" / "sub" / "r.md")), f"{tmp_path / 'f'} er en fil")
    assert "--out" in line
    assert (tmp_path / "f").read_text() == "a file\n"


def test_a_place_nothing_can_be_written_says_why(run):
    """On the old code: FileNotFoundError (a traceback) from mkstemp in /proc."""
    refused(run("/proc/aarshjul-report.md"), "/proc/aarshjul-report.md", "--out")
    refused(run("/proc/aarshjul/report.md"), "/proc/aarshjul/report.md", "--out")


def test_an_empty_out_is_a_usage_mistake(run):
    refused(run(""), "--out")


# --- never half a file -------------------------------------------------------------------------


def test_a_full_disk_keeps_the_old_report_whole_exit_3(tmp_path, monkeypatch):
    """The write fails half way (ENOSPC at fsync): the old report stays as it was, no
    temporary file is left, and the error is a ServiceError (exit 3), one line."""
    from aarshjul.tasks import report_render

    old = tmp_path / "r.md"
    old.write_bytes(b"the old report\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_render.os, "fsync", full)
    with pytest.raises(ServiceError) as caught:
        report_render._write(old, b"x" * 100_000)
    assert caught.value.exit_status == 3 and "\n" not in str(caught.value) and str(old) in str(caught.value)
    assert old.read_bytes() == b"the old report\n"
    no_temporary_files(tmp_path)


def test_a_symlink_put_there_while_rendering_is_not_replaced(tmp_path, monkeypatch):
    """The path is looked at again just before the rename."""
    from aarshjul.tasks import report_render

    target = tmp_path / "r.md"
    real_fsync = os.fsync

    def sneak(fd: int) -> None:
        real_fsync(fd)
        if not target.is_symlink():
            target.symlink_to(tmp_path / "victim")

    monkeypatch.setattr(report_render.os, "fsync", sneak)
    with pytest.raises(BadInput, match="is a symbolic link"):
        report_render._write(target, b"report")
    assert target.is_symlink() and not (tmp_path / "victim").exists()
    no_temporary_files(tmp_path)
