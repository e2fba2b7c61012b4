"""A database error never quotes a member's data: the statement's parameters are hidden,
and PostgreSQL's DETAIL ("Key (email)=(…) already exists") is cut, so neither stderr nor
Prefect's logs (which print str() and the traceback) carry it."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

ADDRESS = "ingrid.østby@blåbær.example.no"


def test_a_unique_violation_says_what_failed_but_not_whose_row(database_url):
    from aarshjul.db.session import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE private_probe (email VARCHAR(254) UNIQUE)"))
        with pytest.raises(IntegrityError) as failed:
            with engine.begin() as conn:
                for _ in range(2):
                    conn.execute(text("INSERT INTO private_probe (email) VALUES (:e)"), {"e": ADDRESS})
        shown = str(failed.value) + "".join(traceback.format_exception(failed.value))
        assert ADDRESS not in shown and "østby" not in shown
        assert "duplicate key value" in shown or "UNIQUE constraint failed" in shown  # the reason stays
        if database_url.startswith("postgresql"):
            assert failed.value.orig.sqlstate == "23505"  # the driver's error keeps its type and code
            assert "DETAIL" not in shown
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS private_probe"))
        engine.dispose()
