"""List-Id (RFC 2919): the id between the angle brackets stays readable to every parser.

Regression (issue 12): the whole value, `<list-id>` included, was RFC 2047-encoded when the
list's name had non-ASCII letters, so parsers (Nodemailer's mailparser, Gmail's filters)
found no list id."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timezone

import pytest

from aarshjul.domain.messages import Envelope, compose


@pytest.mark.parametrize("name", ["Medlemsbrev fra bystyregruppen", "Hva skjer – Årstad SV", "Ø" * 80])
def test_the_list_id_is_never_inside_an_encoded_word(name):
    env = Envelope(from_name="Bergen SV", from_address="post@example.org", to_name="Åse", to_address="a@example.org",
                   subject="Hei", message_id="<1@example.org>", date=datetime(2026, 3, 1, tzinfo=timezone.utc),
                   list_id=f"{name} <hva-skjer.arstad.bergen.example.org>")
    raw = compose(env, "tekst").decode("ascii")
    header = re.search(r"^List-Id: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", raw, re.M)
    assert header, raw
    value = re.sub(r"\r\n[ \t]", " ", header.group(1))  # unfolded
    assert value.rstrip().endswith("<hva-skjer.arstad.bergen.example.org>")
    assert "=?" not in value.split("<", 1)[1]  # the id part is plain
    parsed = email.message_from_string(raw, policy=email.policy.default)
    assert str(parsed["List-Id"]) == f"{name} <hva-skjer.arstad.bergen.example.org>"
