"""Several chapters on one installation: one database, separate outputs, no leaks."""

from __future__ import annotations

import shutil
from datetime import date


from conftest import DATA


def make_chapters(tmp_path, n: int) -> list[str]:
    plans = []
    for i in range(n):
        folder = tmp_path / f"lag{i}"
        shutil.copytree(DATA / "minimal", folder)
        org = (folder / "organisation.yaml").read_text(encoding="utf-8")
        (folder / "organisation.yaml").write_text(
            org.replace("id: test-org", f"id: lag-{i}").replace("name: Testlaget", f"name: Lag nummer {i}"),
            encoding="utf-8")
        plans.append(str(folder / "plan.yaml"))
    return plans


def test_runner_deployments_one_per_flow_per_chapter(tmp_path):
    from aarshjul.flows.deployments import read_deployments, runner_deployments

    plans = make_chapters(tmp_path, 3)
    deployments = runner_deployments(plans)
    flows = read_deployments()
    assert len(deployments) == 3 * len(flows)
    names = {d.name for d in deployments}
    assert {f"{f['name']}-lag-{i}" for f in flows for i in range(3)} == names
    assert {d.parameters["plan_path"] for d in deployments} == set(plans)


def test_chapters_publish_side_by_side_without_leaking(prefect_harness, monkeypatch, tmp_path):
    from aarshjul.flows.calendars import publish_calendars
    from aarshjul.settings import get_settings

    plans = make_chapters(tmp_path, 3)
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'shared.db'}")
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "sites" / "{organisation}"))
    get_settings.cache_clear()
    try:
        summaries = [publish_calendars(plan_path=p, today=date(2025, 1, 10)) for p in plans]
    finally:
        get_settings.cache_clear()
    assert [s.organisation for s in summaries] == ["lag-0", "lag-1", "lag-2"]
    assert len({s.occurrences for s in summaries}) == 1 and all(s.new == s.occurrences for s in summaries)
    for i in range(3):
        site = tmp_path / "sites" / f"lag-{i}"
        html = (site / "index.html").read_text(encoding="utf-8")
        assert f"Lag nummer {i}" in html
        others = [f"Lag nummer {j}" for j in range(3) if j != i]
        for path in site.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                assert not any(o in text for o in others), path
