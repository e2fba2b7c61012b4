"""Rendering the yearly report: HTML (for print), PDF (WeasyPrint) and Markdown.

    render_markdown(report)          the report as Markdown (also the Prefect artifact);
                                     each target as a small table of its numbers
    render_html(report)              one HTML page with print CSS (A4, a page break
                                     before each goal, table rows never split, headers
                                     repeated); each target with a chart, inline SVG
    render_pdf(html)                 the HTML printed to PDF by WeasyPrint
    chart_svg(progress)              one target's chart: measured values over the plan
                                     period against the target line (matplotlib)
    write_report(report, formats, out)   the files, written atomically; never through a
                                     symlink or over a device, FIFO or folder

The report is in the organisation's language (Report.lang, organisation.locale): the
templates take their words from the catalogs (tasks/templates.py install_i18n), the
filters and the charts say dates, numbers and labels in it. The templates are the
organisation's own (its templates/report/) over the bundled ones, in the sandbox.

Plain functions, no Prefect: the CLI calls them directly and flows/report.py wraps them
as tasks. matplotlib and WeasyPrint are imported inside the functions that need them,
so the Markdown report (and every other command) starts without them.

WeasyPrint needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0) and a font with
Norwegian letters (fonts-dejavu-core).
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

from jinja2 import StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

import aarshjul.templates
from aarshjul.domain import i18n
from aarshjul.domain.errors import AarshjulError, BadInput, ReportRenderError, ServiceError
from aarshjul.domain.i18n import N_, Msg, _
from aarshjul.domain.report import OUTCOME, STATUS, STATUS_ORDER, Line, Report
from aarshjul.domain.targets import Progress
from aarshjul.tasks.files import sync_folder
from aarshjul.tasks.templates import install_i18n, loader

TEMPLATES = Path(aarshjul.templates.__file__).parent
FORMATS = ("html", "pdf", "md")
SUFFIX = {"html": ".html", "pdf": ".pdf", "md": ".md"}


def report_filename(report: Report, fmt: str, organisation_id: str | None = None) -> str:
    stem = f"aarsrapport-{organisation_id}-{report.year}" if organisation_id else f"aarsrapport-{report.year}"
    return stem + SUFFIX[fmt]


# --- text formats ----------------------------------------------------------------------


def _env(overrides: str | None = None, lang: str | None = "nb") -> ImmutableSandboxedEnvironment:
    """The report's environment: the organisation's templates folder (if any) over the
    bundled one, in the sandbox (an override is the organisation's code, not ours), its
    words and filters in `lang`."""
    env = ImmutableSandboxedEnvironment(loader=loader(overrides), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False,
                                                   default=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    install_i18n(env, lang)
    day: Callable[[date | datetime | None], str] = lambda value: _day(value, lang)  # noqa: E731
    when: Callable[[Line], str] = lambda line: _when(line, lang)  # noqa: E731
    env.filters["day"] = day
    env.filters["cell"] = _cell
    env.filters["pct"] = lambda value: _pct(value, lang)
    env.filters["num"] = lambda value: _num(value, lang)
    env.filters["when"] = when
    env.filters["hday"] = lambda value: _keep(day(value))
    env.filters["hwhen"] = lambda line: _keep(when(line))
    env.globals.update(STATUS={k: _(lang, v) for k, v in STATUS.items()}, STATUS_ORDER=STATUS_ORDER,
                       OUTCOME={k: _(lang, v) for k, v in OUTCOME.items()},
                       target_status=lambda p: target_status(p, lang))
    return env


def _day(value: date | datetime | None, lang: str | None = "nb") -> str:
    return i18n.day(value, i18n._lang(lang)) if value else "–"


def _keep(text: str) -> Markup:
    """HTML: '31. desember 2025' (or '31 December 2025') breaks only before the year (a
    narrow table column)."""
    return Markup(re.sub(r"(\d+\.?) ([^\W\d_]+)", "\\1\u00a0\\2", str(escape(text))))


def _cell(value: object) -> str:
    """A Markdown table cell: no line breaks, pipes escaped."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _pct(value: float | None, lang: str | None = "nb") -> str:
    if value is None:
        return "–"
    return f"{value * 100:.0f}%" if lang == "en" else f"{value * 100:.0f} %"


def _num(value: int | float | None, lang: str | None = "nb") -> str:
    if value is None:
        return "–"
    return i18n.number(round(value), lang)


def _when(line: Line, lang: str | None = "nb") -> str:
    """When an occurrence was planned: its day(s), or its window when not pinned."""
    if line.planned is None:
        return _(lang, "by {day}", day=_day(line.window_end, lang))
    if line.kind == "deadline":
        return _(lang, "due {day}", day=_day(line.planned, lang))
    if line.planned_end and line.planned_end != line.planned:
        return f"{_day(line.planned, lang)} – {_day(line.planned_end, lang)}"
    return _day(line.planned, lang)


def render_markdown(report: Report) -> str:
    return _env(report.templates, report.lang).get_template("report/report.md.j2").render(
        r=report, tables=_target_tables(report))


def render_html(report: Report, charts: bool = True) -> str:
    svgs = {p.target.name: Markup(chart_svg(p, report.lang)) for p in report.targets} if charts else {}
    return _env(report.templates, report.lang).get_template("report/report.html.j2").render(
        r=report, charts=svgs, compact=_target_tables(report, compact=True))


def target_status(p: Progress, lang: str | None) -> str:
    """A target's status as the report says it (a template override may use p.status_text)."""
    return p.in_lang(lang).status_text


def _target_tables(report: Report, compact: bool = False) -> dict[str, list[tuple[str, str, str]]]:
    """Per target, rows (what, date, value): the baseline, the measurements in the year,
    the target points. Compact (under a chart, which shows the rest): of the year's
    measurements only the first and the last."""
    out = {}
    lang = report.lang
    for p in report.targets:
        end = min(date(report.year, 12, 31), report.today)
        rows = []
        if p.baseline:
            rows.append((_(lang, "Baseline"), i18n.day(p.baseline.on, lang), p.show(p.baseline.value)))
        measured = [m for m in p.points if m.on.year == report.year and m.on <= end and m != p.baseline]
        if compact and len(measured) > 2:
            measured = [measured[0], measured[-1]]
        rows += [(_(lang, "Measured"), i18n.day(m.on, lang), p.show(m.value)) for m in measured]
        if p.target.level is not None:
            rows.append((_(lang, "Goal"), _(lang, "the whole period"), p.show(p.target.level / 100)))
        else:
            rows += [(_(lang, "Goal"), i18n.day(g.on, lang), p.show(g.value)) for g in p.goals]
        out[p.target.name] = rows
    return out


# --- charts ----------------------------------------------------------------------------


def chart_svg(p: Progress, lang: str | None = "nb") -> str:
    """The target's chart as an SVG element (no XML prolog), text kept as text."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    end = min(date(p.year, 12, 31), max(p.current.on if p.current else p.period[0], p.period[0]))
    cutoff = date(p.year, 12, 31)
    shown = [m for m in p.points if m.on <= cutoff]
    start = min([p.period[0], *(m.on for m in shown[:1]), *([p.baseline.on] if p.baseline else [])])
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"aarshjul-{p.target.name}",
                                "font.family": "DejaVu Sans", "font.size": 8}):
        fig, ax = plt.subplots(figsize=(6.6, 2.5), dpi=100)
        # matplotlib's stubs take only numbers on the x axis, but its date converter (a units
        # registry) plots dates as they are: the type: ignore[arg-type] below are for that.
        try:
            ax.axvspan(date(p.year, 1, 1), date(p.year, 12, 31),  # type: ignore[arg-type]
                       color="#f1efe6", zorder=0, label=str(p.year))
            if p.goals:
                xs = [g.on for g in p.goals]
                ys = [g.value for g in p.goals]
                if p.target.kind == "share":
                    ax.plot(xs, ys, ls="--", color="#b3261e", lw=1.2, label=_(lang, "Goal"))  # type: ignore[arg-type]
                else:
                    origin = [p.baseline] if p.baseline else []
                    ax.plot([m.on for m in origin] + xs, [m.value for m in origin] + ys,  # type: ignore[arg-type]
                            ls="--", color="#b3261e", lw=1.2,
                            label=_(lang, "Goal (straight line)") if origin else _(lang, "Goal"))
                    ax.scatter(xs, ys, marker="D", s=22, color="#b3261e", zorder=3)  # type: ignore[arg-type]
                    for g in p.goals:
                        ax.annotate(p.show(g.value), (g.on, g.value), textcoords="offset points", xytext=(-4, 6),
                                    ha="right", fontsize=7, color="#b3261e")
            if p.baseline and p.target.rising:
                ax.axhline(p.baseline.value, ls=":", color="#555555", lw=1, label=_(lang, "Baseline"))
            if shown:
                ax.plot([m.on for m in shown], [m.value for m in shown],  # type: ignore[arg-type]
                        color="#1f4e79", lw=1.8, marker="o", ms=3, label=_(lang, "Measured"), zorder=4)
            else:
                ax.text(0.5, 0.5, _(lang, "No measurements yet"), transform=ax.transAxes, ha="center", va="center",
                        color="#777777")
            ax.set_xlim(start - timedelta(days=15),  # type: ignore[arg-type]
                        max(p.period[1], end) + timedelta(days=15))  # type: ignore[arg-type]
            # matplotlib.dates leaves these constructors unannotated
            ax.xaxis.set_major_locator(mdates.YearLocator())  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))  # type: ignore[no-untyped-call]
            if p.target.kind == "share":
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.0f} %"))
                values = [m.value for m in shown] + [g.value for g in p.goals] + \
                    ([p.baseline.value] if p.baseline else [])
                ax.set_ylim(0, min(1.0, max(values or [1.0]) * 1.25) if max(values or [1.0]) < 0.8 else 1.05)
            else:
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}".replace(",", "\u00a0")))
            ax.grid(axis="y", color="#dddddd", lw=0.6)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7, frameon=False, ncols=4)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


# --- PDF -------------------------------------------------------------------------------


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """Print the HTML to PDF with WeasyPrint (A4, the page rules in the template's CSS)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends missing
        raise ReportRenderError(Msg(
            "a PDF needs WeasyPrint and Pango ({problem}); install `weasyprint` (pip) and "
            "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core (apt), or choose --format html",
            problem=str(exc))) from None
    pdf: bytes = HTML(string=html, base_url=base_url).write_pdf()  # WeasyPrint leaves it unannotated
    return pdf


# --- files -----------------------------------------------------------------------------
#
# Where a report goes (`--out`, or the default folder), and the rules for writing it:
#
#   --out FILE           that file, replaced atomically if it is a regular file
#   --out FOLDER/        (a trailing slash, or a folder that exists) the default file name
#                        (aarsrapport-ORG-YEAR.EXT) inside that folder
#   missing folders      created (0700 is not forced: the umask decides; the file is 0600)
#
# Refused with one line and exit 2, before anything is written: a path that is a symlink
# (at the last component: aarshjul never writes through one, wherever it points; give the
# real path), a device, a FIFO, a socket, or a folder where the file should be; a parent
# that cannot be made (a file in the way, no permission, a read-only or virtual file
# system). A full disk or an I/O error is exit 3. The file is written to a temporary file
# beside it, flushed to disk (fsync) and renamed over the old one, so the path holds the
# old report or the new one, never half of one.

STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO}  # storage failing, not a path to fix


def write_report(report: Report, formats: Iterable[str], folder: Path, organisation_id: str | None = None,
                 out: Path | str | None = None) -> dict[str, Path]:
    """Write the report in each format to `folder` (or to `out`, for a single format: a
    file, or a folder when it ends in / or is one); HTML is rendered once and printed to
    PDF from the same text."""
    formats = list(dict.fromkeys(formats))
    written: dict[str, Path] = {}
    html: str | None = None
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
        name = report_filename(report, fmt, organisation_id)
        path = out_path(out, name) if out is not None and len(formats) == 1 else Path(folder) / name
        _check_target(path)  # before rendering: a wrong --out fails at once
        if fmt == "md":
            data = render_markdown(report).encode("utf-8")
        else:
            html = html or render_html(report)
            data = html.encode("utf-8") if fmt == "html" else render_pdf(html)
        _write(path, data)
        written[fmt] = path
    return written


def out_path(out: Path | str, filename: str) -> Path:
    """The file `--out` names: `out` itself, or `filename` inside it when `out` ends in a
    slash or is a folder (a symlink given as `out` is refused by _check_target, not
    followed into a folder)."""
    text = str(out)
    if not text.strip():
        raise BadInput(Msg("--out is empty; give a file or a folder (ending in /)"))
    path = Path(text)
    if text.endswith(("/", os.sep)) or (path.is_dir() and not path.is_symlink()):
        return path / filename
    return path


def _check_target(path: Path) -> None:
    """Refuse what must never be replaced: a symlink, a device, a FIFO, a socket, a folder."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:  # a file where a folder should be (ENOTDIR), no permission: said by _write
        if exc.errno == errno.ENOTDIR:
            raise _os_error(path, exc) from None
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(path)
        except OSError:
            raise BadInput(Msg("{path} is a symbolic link; the yearly report is never written through a link: "
                               "give the real path with --out", path=str(path))) from None
        raise BadInput(Msg("{path} is a symbolic link (to {target}); the yearly report is never written through a "
                           "link: give the real path with --out", path=str(path), target=target))
    kind = (N_("a folder") if stat.S_ISDIR(mode) else N_("a device") if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else N_("a FIFO (named pipe)") if stat.S_ISFIFO(mode) else N_("a socket") if stat.S_ISSOCK(mode)
            else N_("not a regular file"))
    raise BadInput(Msg("{path} is {kind}, not a regular file; the yearly report replaces only a regular file: "
                       "choose another file with --out (a folder: end it in /)", path=str(path), kind=Msg(kind)))


def _os_error(path: Path, exc: OSError) -> AarshjulError:
    """An OSError writing the report as one line: exit 3 when storage fails (disk full,
    I/O), exit 2 when the path must be changed (naming the part in the way)."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in STORAGE_ERRNOS:
        return ServiceError(Msg("cannot write the yearly report {path}: {reason}; nothing is changed, try again "
                                "when there is room", path=str(path), reason=reason))
    blocker = _file_in_the_way(path)
    if blocker is not None:
        return BadInput(Msg("cannot make the folder of the yearly report {path}: {blocker} is a file, not a folder; "
                            "choose another path with --out", path=str(path), blocker=str(blocker)))
    where = str(exc.filename) if exc.filename and not str(exc.filename).endswith(".tmp") else str(path.parent)
    return BadInput(Msg("cannot write the yearly report {path}: {where}: {reason}; choose another path with --out",
                        path=str(path), where=where, reason=reason))


def _file_in_the_way(path: Path) -> Path | None:
    """The first folder above `path` that exists and is not a folder, if any."""
    for parent in reversed(path.parents):
        try:
            if not stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except OSError:
            return None
    return None


def _write(path: Path, data: bytes) -> None:
    """`data` at `path`, atomically: a temporary file in the same folder (0600: the report
    names people and their notes), flushed to disk, renamed over `path`. Never through a
    symlink, never over a device, FIFO, socket or folder; one-line errors (see above)."""
    _check_target(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o600)  # owner only, whatever the umask
            os.fsync(handle.fileno())
        _check_target(path)  # once more, just before: a symlink or device put there meanwhile is not replaced
        os.replace(tmp, path)
        tmp = None
        sync_folder(path.parent)
    except OSError as exc:
        raise _os_error(path, exc) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
