"""Settings every part shares, from the environment (prefix AARSHJUL_), built once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, overload
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.errors import AarshjulError
from .domain.i18n import N_, Msg, _


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AARSHJUL_", extra="ignore")

    plan: Path = Path("config/plan.yaml")
    database_url: str = "sqlite:///var/aarshjul.db"
    # Folders and URLs may contain {organisation}: one machine serving many chapters
    # keeps each chapter's site and outbox apart (var/sites/{organisation}).
    site_dir: str = "var/site"
    site_url: str | None = None  # where site_dir is served, e.g. https://example.org/kalender
    smtp_url: str | None = None  # unset: messages go to outbox_dir as .eml files
    outbox_dir: str = "var/outbox"
    secret_key_file: Path = Path("var/secret.key")  # signs unsubscribe tokens; created on first use
    mail_retry_delay: float = 2.0  # seconds before retrying a 4xx; doubles each time
    caldav_url: str | None = None
    caldav_username: str | None = None
    caldav_password: SecretStr | None = None  # shown as '**********'; .get_secret_value() where it is used
    caldav_password_block: str | None = None  # or the name of a Prefect Secret block holding it
    caldav_retries: int = 3
    caldav_retry_delay: float = 10.0  # seconds; doubles on every retry
    # the bounce mailbox: imaps://user:pass@host:993/INBOX (or imap://…?starttls=true); a secret,
    # as it holds a password: shown as '**********', never logged (tasks/bounces.py)
    bounce_imap_url: SecretStr | None = None
    lang: Literal["nb", "en"] = "nb"

    def __repr_args__(self) -> Any:
        """repr() and str() show URLs without their password (smtp://user:***@host)."""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name in ("smtp_url", "caldav_url", "database_url") and value else value


def redact_url(url: str) -> str:
    """`url` with any password in it replaced by ***: smtp://board:***@mail.example.org:587."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable (a bad port): show nothing of what might be a password
        return url.split("://", 1)[0] + "://***" if "@" in url else url
    if not password:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@overload
def per_organisation(template: str, organisation: str) -> str: ...


@overload
def per_organisation(template: str | None, organisation: str) -> str | None: ...


def per_organisation(template: str | None, organisation: str) -> str | None:
    """A setting with {organisation} filled in: var/sites/{organisation} -> var/sites/bergen-sv."""
    return template.replace("{organisation}", organisation) if template else template


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings; a bad value fails at once, naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [Msg("{name}: {reason}", name=_name(e), reason=_reason(e)) for e in exc.errors()]
        raise AarshjulError(Msg("invalid setting\n  {lines}", lines=_Lines(lines))) from None


class _Lines(list[Msg]):
    """The settings' problems, one a line, each said in the reader's language."""

    def say(self, lang: str | None) -> str:
        return "\n  ".join(m.say(lang) for m in self)


def _name(error: Any) -> str:
    return "AARSHJUL_" + "_".join(str(p) for p in error["loc"]).upper()


class _Or(tuple[str, ...]):
    """Allowed values, 'nb or en' in the reader's language."""

    def say(self, lang: str | None) -> str:
        return _(lang, " or ").join(repr(v) for v in self)


def _reason(error: Any) -> Msg | str:
    """What is wrong with a setting's value, in our words where we have them (pydantic's otherwise)."""
    kind, value = error["type"], error.get("input")
    if kind == "literal_error":
        field = Settings.model_fields.get(str(error["loc"][0])) if error.get("loc") else None
        return Msg("{value!r}: use {choices}", value=value, choices=_Or(get_args(field.annotation) if field else ()))
    said = {"int_parsing": N_("write a whole number"), "float_parsing": N_("write a number"),
            "bool_parsing": N_("write true or false")}
    return Msg(said[kind]) if kind in said else str(error["msg"])
