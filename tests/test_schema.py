"""JSON Schemas of the files aarshjul reads (domain/schemas.py, `aarshjul schema KIND`, docs/schema/).

The schemas in docs/schema/ are generated; when a model changes, regenerate them with

    AARSHJUL_WRITE_SCHEMAS=1 .venv/bin/python -m pytest -q tests/test_schema.py

(or `aarshjul schema KIND > docs/schema/KIND.schema.json` for each kind).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from aarshjul.domain import schemas
from aarshjul.domain.errors import PlanError
from aarshjul.domain.load import load_plan
from aarshjul.domain.postcodes import parse_table
from aarshjul.domain.yamlsource import load_yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "schema"
CONFIG = ROOT / "config"
MINIMAL = Path(__file__).parent / "data" / "minimal"
KIND_OF = {k.file: name for name, k in schemas.KINDS.items()}


def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schemas.schema(kind),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def errors(kind: str, data: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(kind).iter_errors(data)]


def written(folder: Path, text: str) -> object:
    """A YAML text read the way aarshjul reads it, as JSON sees it."""
    path = folder / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return schemas.as_json(load_yaml(path).data)


@pytest.mark.parametrize("kind", sorted(schemas.KINDS))
def test_docs_schema_is_current(kind):
    path = DOCS / schemas.file_name(kind)
    fresh = schemas.schema_text(kind)
    if os.environ.get("AARSHJUL_WRITE_SCHEMAS") == "1":
        path.write_text(fresh, encoding="utf-8")
    assert path.exists(), f"{path} is missing: AARSHJUL_WRITE_SCHEMAS=1 pytest tests/test_schema.py writes it"
    assert path.read_text(encoding="utf-8") == fresh, (
        f"{path} is stale (a model changed): AARSHJUL_WRITE_SCHEMAS=1 pytest tests/test_schema.py rewrites it")


def test_docs_schema_holds_nothing_else():
    assert sorted(p.name for p in DOCS.iterdir()) == sorted(schemas.file_name(k) for k in schemas.KINDS)


@pytest.mark.parametrize("kind", sorted(schemas.KINDS))
def test_each_schema_is_a_valid_draft_2020_12_schema(kind):
    jsonschema.Draft202012Validator.check_schema(schemas.schema(kind))
    assert schemas.schema(kind)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# the bundled organisation and the test organisations (tests/data/*/): every file of a known kind
BUNDLED = sorted([*CONFIG.glob("*.yaml"), *(p for p in MINIMAL.parent.glob("*/*.yaml") if p.name in KIND_OF)])


def test_every_bundled_file_has_a_kind():
    assert {p.name for p in CONFIG.glob("*.yaml")} <= set(KIND_OF), "a new file in config/ needs a schema kind"
    assert len(BUNDLED) >= 10


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")  # config/, tests/data/
def test_bundled_file_is_valid_against_its_schema(path):
    data = schemas.as_json(load_yaml(path).data)
    assert errors(KIND_OF[path.name], data) == []


@pytest.mark.parametrize("path", sorted(CONFIG.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_file_names_its_schema_on_its_first_line(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == schemas.modeline(KIND_OF[path.name]) == f"# yaml-language-server: $schema=../docs/schema/{KIND_OF[path.name]}.schema.json"
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == (DOCS / schemas.file_name(KIND_OF[path.name])).resolve() and target.exists()


# --- the schema says what aarshjul says ---------------------------------------------------

PLAN = MINIMAL / "plan.yaml"


def plan_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of tests/data/minimal with one edit to plan.yaml."""
    import shutil

    folder = tmp_path / "plan"
    shutil.copytree(MINIMAL, folder)
    text = (folder / "plan.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    (folder / "plan.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return folder / "plan.yaml"


PLAN_MISTAKES = {
    "unknown key": ("  title: Testplan", "  titel: Testplan"),
    "unknown cadence kind": ("cadence: {kind: standing}", "cadence: {kind: stående}"),
    "unquoted measure number": ('number: "2.5"', "number: 2.5"),
    "a period that is not one": ('  period: "2025-2026"\ngoals:', '  period: "2025-26"\ngoals:'),
    "a count of zero": ("count: 2,", "count: 0,"),
    "a visibility that does not exist": ("visibility: public", "visibility: secret"),
}


@pytest.mark.parametrize("mistake", sorted(PLAN_MISTAKES))
def test_a_mistake_the_schema_finds_is_one_check_finds(tmp_path, mistake):
    old, new = PLAN_MISTAKES[mistake]
    path = plan_with(tmp_path, old, new)
    assert errors("plan", schemas.as_json(load_yaml(path).data)), f"the schema accepts {mistake}"
    if mistake != "unquoted measure number":  # aarshjul reads 1.5 as "1.5"; the schema asks for the quotes
        with pytest.raises(PlanError):
            load_plan(path)


def test_the_minimal_plan_is_valid_for_both(tmp_path):
    path = plan_with(tmp_path, '  period: "2025-2026"\ngoals:', "  period: [2025, 2026-H1, 2026-07-01/2026-12-31]\ngoals:")
    load_plan(path)
    assert errors("plan", schemas.as_json(load_yaml(path).data)) == []


def test_written_forms_of_parsed_values():
    org = {"organisation": {"id": "x", "name": "X"},
           "bodies": {"styret": {"name": "S", "kind": "board", "contact": "s@example.org"}},
           "important_dates": {"a": {"name": "A", "annual": "05-01"}, "b": {"name": "B", "window": "06-01/06-30"},
                               "c": {"name": "C", "dates": {"2025": "2025-09-08"}}}}
    assert errors("organisation", org) == []
    org["important_dates"]["a"]["annual"] = "1 May"
    assert errors("organisation", org)
    org["important_dates"]["a"]["annual"] = "05-01"
    org["important_dates"]["c"]["dates"] = {"neste år": "2026-09-08"}  # a year is a number
    assert errors("organisation", org)
    pin = {"date": "2026-03-12", "start": "18:00", "end": 1200}  # YAML 1.1 reads an unquoted 20:00 as 1200
    assert errors("schedule", {"occurrences": {"1.5/2026/1": pin}}) == []
    assert errors("schedule", {"occurrences": {"1.5/2026/1": {**pin, "start": "kl. 18"}}})
    assert errors("schedule", {"occurrences": {"not a key": pin}})
    assert errors("schedule", {"occurrences": {"1.5/2026/1": {"date": "2026-02-30"}}})  # format: date


def test_an_unquoted_time_read_as_yaml_1_1_reads_it(tmp_path):
    data = written(tmp_path, 'occurrences:\n  "1.5/2026/1": {date: "2026-03-12", start: 18:00}\n')
    assert data == {"occurrences": {"1.5/2026/1": {"date": "2026-03-12", "start": 1080}}}
    assert errors("schedule", data) == []


POSTCODES = {
    "a range": ({"from": "5003", "to": "5020", "branch": "sentrum"}, True),
    "one code": ({"code": "5021", "branch": "sentrum"}, True),
    "an unquoted code": ({"code": 5021, "branch": "sentrum"}, True),
    "code and range": ({"code": "5021", "from": "5003", "to": "5020", "branch": "sentrum"}, False),
    "no branch": ({"code": "5021"}, False),
    "three digits": ({"code": "502", "branch": "sentrum"}, False),
    "an unknown key": ({"kode": "5021", "branch": "sentrum"}, False),
}


@pytest.mark.parametrize("case", sorted(POSTCODES))
def test_postcodes_schema_agrees_with_the_table_reader(tmp_path, case):
    entry, good = POSTCODES[case]
    doc = {"postcodes": [entry]}
    from aarshjul.domain.postcodes import PostcodeTableError
    from aarshjul.domain.yamlsource import Located

    src = Located(tmp_path / "postcodes.yaml", doc, {})
    try:
        parse_table(src, {"sentrum"})
        reader_ok = True
    except PostcodeTableError:
        reader_ok = False
    assert reader_ok is good
    assert (errors("postcodes", doc) == []) is good


def test_chapters_schema():
    assert errors("chapters", {"chapters": [{"plan": "config/plan.yaml"}]}) == []
    assert errors("chapters", {"chapters": [{"plna": "config/plan.yaml"}]})
    assert errors("chapters", {"chapters": []})


def test_descriptions_come_from_the_models():
    plan = schemas.schema("plan")
    assert "RRULE" in plan["$defs"]["Series"]["description"]
    assert "A measure number" in plan["$defs"]["Measure"]["properties"]["number"]["description"]
    assert all("title" not in p for p in plan["$defs"]["Measure"]["properties"].values())  # no "Period Text"


# --- aarshjul schema KIND --------------------------------------------------------------------


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aarshjul", *argv], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_schema_command_prints_the_docs_file():
    result = run("schema", "mail")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (DOCS / "mail.schema.json").read_text(encoding="utf-8")


def test_schema_command_refuses_an_unknown_kind():
    result = run("schema", "plans")
    assert result.returncode == 2
    assert "'plans'" in result.stderr and "plan, organisation, schedule" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_command_never_imports_prefect():
    code = ("import sys\nfrom aarshjul.cli import main\n"
            "for kind in ('plan', 'organisation', 'schedule', 'mail', 'targets', 'postcodes', 'chapters'):\n"
            "    main(['schema', kind])\n"
            "assert not any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules), 'prefect imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def keys_of(node: object) -> set[str]:
    """Every property name anywhere in a schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        for name, value in node.items():
            if name in ("properties", "patternProperties") and isinstance(value, dict):
                found |= {k for k in value if name == "properties"}
            found |= keys_of(value)
    elif isinstance(node, list):
        for value in node:
            found |= keys_of(value)
    return found


@pytest.mark.parametrize("kind", sorted(schemas.KINDS))
def test_docs_files_md_explains_every_key(kind):
    text = (ROOT / "docs" / "files.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {schemas.KINDS[kind].file}\n", 1)[1].split("\n## ", 1)[0]
    missing = sorted(k for k in keys_of(schemas.schema(kind)) if f"`{k}`" not in section)
    assert not missing, f"docs/files.md, section {schemas.KINDS[kind].file}, does not explain {missing}"


def test_the_command_knows_every_kind():
    from aarshjul.cli_schema import _KINDS  # kept apart so that `aarshjul --help` needs no pydantic models

    assert _KINDS == tuple(schemas.KINDS)
