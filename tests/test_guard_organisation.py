"""Issue 14 item 2: nothing of Bergen SV in the code or the generic templates.

The bundled organisation lives in config/ alone. Its body ids, its word for a branch,
the measure numbers its flows once hard-coded ("1.4" new-member follow-up, "2.12" dues)
and the political wording of its dues letter must not appear anywhere else that is
shipped: `git grep` outside config/, tests/ and the documentation finds none of them.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

OUTSIDE = [":!config", ":!tests", ":!docs", ":!*.md"]
# the measures whose numbers the code once acted on, as a number (not "line-height:1.4", ">=1.4")
NUMBERS = r"(^|[^0-9.:>=<~-])(1\.4|2\.12)([^0-9]|$)"


def _git_grep(pattern: str, *paths: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the guard needs git and the repository's .git")
    found = subprocess.run(["git", "grep", "-n", "-I", "-i", "-E", pattern, "--", *paths], cwd=ROOT,
                           capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr
    return found.stdout.splitlines()


def _bundled_words() -> list[str]:
    """Bergen SV's own words from config/organisation.yaml: its body ids of more than four
    letters, its word for a branch, and its name."""
    org = yaml.safe_load((ROOT / "config" / "organisation.yaml").read_text(encoding="utf-8"))
    words = {ident for ident in org["bodies"] if len(ident) > 4 and ident not in ("styret",)}
    words |= {w for w in org["organisation"]["branch_word"].values() if w}
    words |= {org["organisation"]["name"], "kraft i bydelene", "et parti med kraft"}
    return sorted(words)


def test_the_bundled_organisations_words_are_only_in_config():
    words = _bundled_words()
    assert "bydelslag" in words and "Bergen SV" in words  # the guard reads what it should
    hits = _git_grep("|".join(re.escape(w) for w in words), ".", *OUTSIDE)
    assert hits == [], "Bergen SV's words outside config/:\n" + "\n".join(hits)


def test_no_measure_number_of_the_bundled_plan_is_acted_on_in_code_or_templates():
    hits = _git_grep(NUMBERS, "*.py", "*.j2", "prefect.yaml", *OUTSIDE)
    assert hits == [], "measure numbers of the bundled plan in code:\n" + "\n".join(hits)


def test_the_guard_finds_what_it_looks_for(tmp_path):
    """The patterns match the very lines the issue found (so an empty result means something)."""
    assert re.search(NUMBERS, 'log_completion(session, org, "2.12", key)')
    assert re.search(NUMBERS, "Nye medlemmer (tiltak 1.4)")
    assert not re.search(NUMBERS, "line-height:1.4;") and not re.search(NUMBERS, '"aiosmtpd>=1.4,<2"')
    assert any(re.search(re.escape(w), "til et parti med kraft i bydelene", re.I) for w in _bundled_words())
