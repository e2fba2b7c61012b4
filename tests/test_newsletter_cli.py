"""`aarshjul newsletter list | preview | send` as a person runs them, against a real SMTP
server and database.

Through `aarshjul.cli.main` in this process (so `send`'s flow run uses Prefect's test
harness instead of starting a temporary server, ~10 s, per command); main() is what the
`aarshjul` script calls, so exit statuses and messages are the real ones.
"""

from __future__ import annotations

import pytest

from test_mail import add_members, people

pytestmark = pytest.mark.prefect

TODAY = ("--today", "2025-03-02")


@pytest.fixture
def cli(monkeypatch, tmp_path, files, capsys):
    """run(*args) -> (exit status, stdout, stderr); the minimal plan, a temporary database and outbox."""
    from cli_runner import invoke
    from aarshjul.settings import get_settings

    db = tmp_path / "db" / "a.db"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("AARSHJUL_PLAN", str(files.plan))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        return invoke(capsys, *args)

    run.db = db
    run.url = f"sqlite:///{db}"
    yield run
    get_settings.cache_clear()


def test_newsletter_list_names_each_newsletter_and_its_next_edition(cli):
    code, out, err = cli("newsletter", "list", "--today", "2025-02-20")
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert set(rows) == {"nyhetsbrev", "hva-skjer"}
    assert "Nyhetsbrev" in rows["nyhetsbrev"] and "alle medlemmer" in rows["nyhetsbrev"]
    assert "nyhetsbrev/2025-03 (2025-03-01)" in rows["nyhetsbrev"]
    assert "hvert" in rows["hva-skjer"] and "hva-skjer/2025-03 (2025-03-01)" in rows["hva-skjer"]
    assert not cli.db.exists()  # read-only: no database made


def test_newsletter_preview_prints_the_subject_and_sends_nothing(cli, smtp_sink, monkeypatch):
    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    code, out, err = cli("newsletter", "preview", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0, err
    assert out.startswith("Emne: Nyhetsbrev – mars 2025\nUtgave: nyhetsbrev/2025-03\n")
    assert "Hei Ola," in out and "https://test.example.org/avmeld/FORHANDSVISNING" in out
    code, out, err = cli("newsletter", "preview", "nyhetsbrev", "--edition", "2025-03", *TODAY, "--lang", "en")
    assert out.startswith("Subject: Nyhetsbrev – mars 2025\nEdition: nyhetsbrev/2025-03\n")  # the letter stays nb
    assert "https://test.example.org/avmeld/PREVIEW" in out
    code, html, err = cli("newsletter", "preview", "nyhetsbrev", "--edition", "2025-03", "--html", *TODAY)
    assert code == 0 and "<strong>gratis kollektivtransport</strong>" in html
    assert sink.messages == [] and not cli.db.exists() and not (cli.db.parent.parent / "outbox").exists()


def test_newsletter_send_reaches_each_member_once_and_a_second_send_sends_nothing(prefect_harness, cli, smtp_sink,
                                                                                   monkeypatch):
    from aarshjul.db.migrate import upgrade

    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    upgrade(cli.url)
    add_members(cli.url, people(5))

    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0, err
    assert "nyhetsbrev/2025-03: 5 sendt, 0 feilet, 0 ukjent, 0 i tvil, 0 avmeldt, 0 ugyldig adresse" in out
    assert sorted(sink.by_recipient()) == [f"m{i}@example.org" for i in range(1, 6)]
    assert all(len(v) == 1 for v in sink.by_recipient().values())
    assert {str(m.parsed()["Subject"]) for m in sink.messages} == {"Nyhetsbrev – mars 2025"}

    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0, err
    assert "nyhetsbrev/2025-03: 0 sendt" in out and len(sink.messages) == 5


def test_newsletter_send_of_an_unknown_newsletter_exits_2_before_anything(cli, smtp_sink, monkeypatch):
    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    code, out, err = cli("newsletter", "send", "nyhetsbrv", "--edition", "2025-03", *TODAY)
    assert code == 2 and out == ""
    assert [line for line in err.splitlines() if line.strip()] == [
        "feil: ukjent nyhetsbrev 'nyhetsbrv'; mente du nyhetsbrev?"]
    assert sink.messages == [] and not cli.db.exists()


def test_an_edition_whose_text_is_not_written_is_said_in_norwegian_and_nothing_is_sent(prefect_harness, cli,
                                                                                      smtp_sink, monkeypatch):
    from aarshjul.db.migrate import upgrade

    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    upgrade(cli.url)
    add_members(cli.url, people(2))
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-04", *TODAY)
    said = "\n".join(line for line in (out + err).splitlines() if line.startswith("!"))  # not Prefect's log
    assert "nyhetsbrev/2025-04: teksten " in said and "er ikke skrevet ennå" in said, said
    assert "not written" not in said and sink.messages == []


@pytest.mark.parametrize("lang, said", [("nb", "nevner ingen e-postfil (legg til `mail: mail.yaml`)"),
                                        ("en", "names no mail file (add `mail: mail.yaml`)")])
def test_a_plan_without_a_mail_file_is_said_in_the_readers_language(cli, files, lang, said):
    files.edit("plan.yaml", "mail: mail.yaml\n", "")
    (files.folder / "mail.yaml").unlink()
    code, out, err = cli("newsletter", "list", "--lang", lang)
    assert code == 2 and said in err, err
