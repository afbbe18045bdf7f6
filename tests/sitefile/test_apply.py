"""Schedule files: ``cunxiang apply``, ``export`` and ``demo``, run as the real command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from app.announcements.models import Announcement, Revision
from app.areas.models import Area
from app.db import session_scope
from app.schedules.models import Schedule
from app.speakers.service import resolve_terminal_token
from app.users.service import login
from tests.conftest import ROOT
from tests.schedules.conftest import orders


def cunxiang(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``cunxiang`` command in a process of its own."""
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def run(*args: str) -> Result:
    """Run the ``cunxiang`` command in this process (the test's environment)."""
    from app.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_demo_applies_the_sample_district_and_a_second_run_changes_nothing(
    env: dict[str, str], tmp_path: Path,
) -> None:
    first = cunxiang("demo", "--no-render", env=env)
    assert first.returncode == 0, first.stderr
    assert "areas: 12 created" in first.stdout and "schedules: 5 created" in first.stdout
    with session_scope() as session:
        towns = session.scalars(select(Area.name).where(Area.parent_code == "qh")).all()
        assert sorted(towns) == sorted(["清河镇", "柳溪镇", "石桥街道"])
        revisions = session.scalars(select(Revision)).all()
        assert len(revisions) == 5
        assert {(r.status, r.author, r.reviewed_by) for r in revisions} == {
            ("approved", "system:apply", "system:cunxiang")}
        letter = next(r for r in revisions if r.title == "致全体居民的一封信")
        assert letter.body == (ROOT / "schedules/demo/letter.txt").read_text("utf-8").strip()
        names = set(session.scalars(select(Schedule.name)))
        assert "青禾区早间广播" in names and len(names) == 5
    # A newcomer can log in as each role, and the two speakers' terminals can connect.
    assert "users: 3 created" in first.stdout and "speakers: 2 created" in first.stdout
    for role, username, password in (("staff", "staff", "staff-demo-1"),
                                      ("reviewer", "reviewer", "reviewer-demo-1"),
                                      ("crew", "crew", "crew-demo-1")):
        assert f"{role:<9} {username} / {password}" in first.stdout
        with session_scope() as session:
            assert login(session=session, username=username, password=password, ttl_s=60)
    tokens = re.findall(r"--token (cxt_\S+)", first.stdout)
    assert len(tokens) == 2 and "QH-DC-001: cunxiang terminal --server http://" in first.stdout
    with session_scope() as session:
        assert {resolve_terminal_token(session, t).village_code for t in tokens} == {
            "qh-qinghe-dongcun", "qh-liuxi-hekou"}

    again = run("demo", "--no-render")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.count(" 0 created, 0 updated") == 7, again.stdout
    assert "--token" not in again.stdout  # a token is shown once, when the speaker is made
    with session_scope() as session:  # the second run left the tokens alone
        assert all(resolve_terminal_token(session, t) for t in tokens)

    exported = run("export", "-o", str(tmp_path / "now.yaml"))
    assert exported.exit_code == 0, exported.stderr
    data = yaml.safe_load((tmp_path / "now.yaml").read_text("utf-8"))
    assert len(data["areas"]) == 12 and len(data["announcements"]) == 5
    evening = next(s for s in data["schedules"] if s["name"] == "柳溪镇安全提醒")
    assert evening == {"name": "柳溪镇安全提醒", "playlist": "安全提醒", "targets": ["qh-liuxi"],
                       "every_minutes": 120, "window": ["09:00", "17:00"],
                       "days": ["mon", "tue", "wed", "thu", "fri"], "volume": 70, "loop": 1}
    # What was exported applies back onto the same state without a change.
    reapplied = run("apply", "--no-render", str(tmp_path / "now.yaml"))
    assert reapplied.exit_code == 0, reapplied.stderr
    assert reapplied.stdout.count(" 0 created, 0 updated") == 4, reapplied.stdout


SMALL = """
areas:
  - {code: sd, name: 小区, level: district}
  - {code: st, name: 小镇, level: town, parent: sd}
  - {code: sv, name: 小村, level: village, parent: st}
announcements:
  - title: 防火
    area: sd
    body: 请注意防火。
playlists:
  - {name: 小节目, area: sd, items: [{announcement: 防火}], gap_ms: 0}
schedules:
  - {name: 小村广播, playlist: 小节目, targets: [st], times: [%s], loop: 2}
"""


def test_apply_renders_the_audio_and_issues_orders_and_follows_edits(
    env: dict[str, str], tmp_path: Path,
) -> None:
    plan = tmp_path / "small.yaml"
    plan.write_text(SMALL % '"07:00", "12:00", "18:30"', encoding="utf-8")
    applied = run("apply", str(plan))
    assert applied.exit_code == 0, applied.stderr
    assert "rendered 1 announcement" in applied.stdout
    issued = orders(village_code="sv")
    assert len(issued) == 3 and all(o.media and o.loop == 2 for o in issued)

    plan.write_text(SMALL % '"07:00", "12:00"', encoding="utf-8")
    edited = run("apply", str(plan))
    assert edited.exit_code == 0, edited.stderr
    assert "schedules: 0 created, 1 updated" in edited.stdout
    assert len(orders(village_code="sv")) == 2
    assert len(orders("withdrawn", village_code="sv")) == 1


def test_a_file_the_api_would_refuse_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    plan = tmp_path / "late.yaml"
    plan.write_text(SMALL % '"07:00", "23:00"', encoding="utf-8")
    refused = cunxiang("apply", "--no-render", str(plan), env=env)  # the real exit code
    assert refused.returncode == 2
    assert "小村广播" in refused.stderr and "23:00" in refused.stderr
    assert "Traceback" not in refused.stderr
    with session_scope() as session:  # all or nothing: not even the areas were kept
        assert session.scalars(select(Area)).all() == []
        assert session.scalars(select(Announcement)).all() == []

    plan.write_text("schedules: [{name: x, playlist: y}]", encoding="utf-8")
    broken = run("apply", str(plan))
    assert broken.exit_code == 2 and "targets" in broken.stderr


PEOPLE = """
areas:
  - {code: sd, name: 小区, level: district}
  - {code: st, name: 小镇, level: town, parent: sd}
  - {code: sv, name: 小村, level: village, parent: st}
users:
  - {username: xiao, password: first-pass-1, role: staff, area: st, name: %s}
  - {username: fixer, password: fixer-pass-1, role: crew}
crews:
  - {name: 小镇维修队, towns: [st], members: [fixer]}
speakers:
  - {serial: SV-1, village: sv, name: 小村喇叭, location: %s}
"""


def test_users_crews_and_speakers_follow_the_file_but_passwords_and_tokens_stay(
    env: dict[str, str], tmp_path: Path,
) -> None:
    from app.speakers.models import Speaker
    from app.users.models import User

    plan = tmp_path / "people.yaml"
    plan.write_text(PEOPLE % ("小肖", "村口"), encoding="utf-8")
    first = run("apply", str(plan))
    assert first.exit_code == 0, first.stderr
    [token] = re.findall(r"--token (cxt_\S+)", first.stdout)

    plan.write_text(PEOPLE.replace("first-pass-1", "other-pass-1") % ("肖明", "祠堂门口"),
                    encoding="utf-8")
    edited = run("apply", str(plan))
    assert edited.exit_code == 0, edited.stderr
    assert "users: 0 created, 1 updated, 1 unchanged" in edited.stdout
    assert "crews: 0 created, 0 updated, 1 unchanged" in edited.stdout
    assert "speakers: 0 created, 1 updated" in edited.stdout and "--token" not in edited.stdout
    with session_scope() as session:
        assert session.scalar(select(User.name).where(User.username == "xiao")) == "肖明"
        assert login(session=session, username="xiao", password="first-pass-1", ttl_s=60)
        assert session.scalar(select(Speaker.location)) == "祠堂门口"
        assert resolve_terminal_token(session, token) is not None
