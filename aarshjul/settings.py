"""Settings every part shares, from the environment (prefix AARSHJUL_), built once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.errors import AarshjulError


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
    caldav_password: str | None = None
    caldav_password_block: str | None = None  # or the name of a Prefect Secret block holding it
    caldav_retries: int = 3
    caldav_retry_delay: float = 10.0  # seconds; doubles on every retry
    lang: Literal["nb", "en"] = "nb"


def per_organisation(template: str | None, organisation: str) -> str | None:
    """A setting with {organisation} filled in: var/sites/{organisation} -> var/sites/bergen-sv."""
    return template.replace("{organisation}", organisation) if template else template


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings; a bad value fails at once, naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"AARSHJUL_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        raise AarshjulError("invalid setting\n  " + "\n  ".join(lines)) from None
