"""JSON Schemas of the files aarshjul reads, generated from the models that read them.

    kind          file              read by                         model
    plan          plan.yaml         domain/load.py                  model.PlanFile
    organisation  organisation.yaml domain/load.py                  model.OrganisationFile
    schedule      schedule.yaml     domain/load.py                  model.ScheduleFile
    mail          mail.yaml         domain/load.py                  mail_model.MailFile
    targets       targets.yaml      domain/targets.py               targets.TargetFile
    postcodes     postcodes.yaml    domain/postcodes.py (by hand)   PostcodesFile, below
    chapters      chapters.yaml     domain/load.py                  model.ChaptersFile

A schema describes a file as it is *written* (JSON Schema draft 2020-12, the YAML read as
JSON: mapping keys are text): where a model parses a value (a period `2024-2027`, a time
`"18:00"`), its type carries the written form's schema (`WithJsonSchema` in model.py).
Descriptions come from the models' docstrings and field descriptions.

A schema catches what an editor can see in one file: unknown keys, missing keys, wrong
types, a `kind` that does not exist, a value of the wrong form. What spans files (a body
that must exist, a pin that must match an occurrence) and rules between fields of one
mapping are for `aarshjul check`, which reads every file and names file, line and field.

The generated schemas are kept in docs/schema/<kind>.schema.json (tests/test_schema.py
fails when one is stale), printed by `aarshjul schema KIND`, and referenced from the first
line of each YAML file (`# yaml-language-server: $schema=...`), so that editors with a
YAML language server (VS Code's YAML extension, Neovim, Helix, JetBrains) complete keys
and mark mistakes as they are typed. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from .mail_model import MailFile
from .model import ChaptersFile, OrganisationFile, PlanFile, ScheduleFile, Slug
from .targets import TargetFile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FOLDER = "docs/schema"  # beside the bundled config/, from the repository's root


# --- the file with no pydantic model of its own ---------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Postcode = Annotated[Union[str, int], WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^\d{4}$"}, {"type": "integer", "minimum": 1000, "maximum": 9999}],
    "description": 'Four digits, in quotes: "5003" (YAML reads an unquoted 0150 as a number)'})]


class PostcodeCode(_Strict):
    """One postcode; it wins over any range that holds it."""

    code: Postcode
    branch: Annotated[Slug, Field(description="The id of a branch body (kind branch) in organisation.yaml")]


class PostcodeRange(_Strict):
    """A range of postcodes, both ends included; ranges must not overlap."""

    from_: Annotated[Postcode, Field(alias="from", description="The first postcode of the range")]
    to: Annotated[Postcode, Field(description="The last postcode of the range (not before `from`)")]
    branch: Annotated[Slug, Field(description="The id of a branch body (kind branch) in organisation.yaml")]


class PostcodesFile(_Strict):
    """Postcode -> branch: which branch a member belongs to when the member export does not
    say. Read by `aarshjul members import` from postcodes.yaml beside the plan."""

    postcodes: list[PostcodeCode | PostcodeRange] | None


# --- the kinds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of file: its usual name, the model that describes it, and a line about it."""

    name: str
    file: str
    model: type[BaseModel]
    about: str


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("plan", "plan.yaml", PlanFile,
         "The adopted work plan: goals, sub-goals, measures and how often each must happen."),
    Kind("organisation", "organisation.yaml", OrganisationFile,
         "The organisation, its bodies, groups of bodies and important dates."),
    Kind("schedule", "schedule.yaml", ScheduleFile,
         "What the board has decided about single occurrences: date, time, place, or cancelled."),
    Kind("mail", "mail.yaml", MailFile,
         "Mail: the sender, the unsubscribe address, reminders and newsletters."),
    Kind("targets", "targets.yaml", TargetFile,
         "The plan's measurable sub-goals (KPIs) for the yearly report."),
    Kind("postcodes", "postcodes.yaml", PostcodesFile,
         "Postcode -> branch, for members whose export names no branch."),
    Kind("chapters", "chapters.yaml", ChaptersFile,
         "The chapters one installation serves (aarshjul serve --chapters)."),
)}


class _Generator(GenerateJsonSchema):
    """pydantic's generator without a title on every field (it only repeats the key)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """A mapping whose keys have a form (pins by occurrence key, bodies by id) allows no
        other keys: pydantic's patternProperties alone would let any key through."""
        out = super().dict_schema(schema)
        if "patternProperties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        keys = schema.get("keys_schema")
        if keys is not None and keys.get("type") == "int":  # `2026:` in YAML, "2026" in JSON
            out["propertyNames"] = {"pattern": r"^\d+$"}
        return out


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind of file; KeyError for an unknown kind (see KINDS)."""
    k = KINDS[kind]
    body = k.model.model_json_schema(by_alias=True, schema_generator=_Generator, mode="validation")
    head = {"$schema": DIALECT, "title": f"aarshjul {k.file}", "description": body.pop("description", k.about)}
    body.pop("title", None)
    return {**head, **body}


def schema_text(kind: str) -> str:
    """The schema as the file docs/schema/<kind>.schema.json holds it (and `aarshjul schema` prints)."""
    return json.dumps(schema(kind), ensure_ascii=False, indent=2) + "\n"


def file_name(kind: str) -> str:
    """docs/schema/<kind>.schema.json's name."""
    return f"{kind}.schema.json"


def modeline(kind: str, folder: str = f"../{FOLDER}") -> str:
    """The first line of a YAML file of this kind: where editors find its schema."""
    return f"# yaml-language-server: $schema={folder}/{file_name(kind)}"


def as_json(value: Any) -> Any:
    """A YAML document as read by yamlsource.load_yaml, as JSON sees it: mapping keys are
    text (YAML's `2025:` is the JSON key "2025"). For validating a file against its schema."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value
