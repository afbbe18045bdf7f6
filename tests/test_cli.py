"""The ``cunxiang`` command: configuration errors, migrate, create-user, import-areas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import ROOT, login


def _run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, **kw)


def test_invalid_settings_refuse_to_start_with_a_clear_message(env) -> None:  # type: ignore[no-untyped-def]
    result = _run(["migrate"], {**env, "CUNXIANG_TIMEZONE": "Mars/Olympus",
                                "CUNXIANG_QUIET_HOURS": "10pm-6am"})
    assert result.returncode == 2
    assert "CUNXIANG_TIMEZONE" in result.stderr and "CUNXIANG_QUIET_HOURS" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_user_and_import_areas(env, client: TestClient, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "areas.csv"
    csv_file.write_text("code,name,level,parent\nd9,南山区,district,\nt9,南镇,town,d9\n",
                        encoding="utf-8")
    imported = _run(["import-areas", str(csv_file)], env)
    assert imported.returncode == 0, imported.stderr
    assert "created 2" in imported.stdout
    made = _run(["create-user", "liu", "--role", "staff", "--area", "t9", "--name", "刘洋"],
                {**env, "CUNXIANG_NEW_USER_PASSWORD": "liu-password-1"})
    assert made.returncode == 0, made.stderr
    headers = login(client, "liu", "liu-password-1")
    assert client.get("/api/v1/areas/t9", headers=headers).status_code == 200
    admin = login(client, "admin", "admin-pass-123")
    assert client.get("/api/v1/users/liu", headers=admin).json()["name"] == "刘洋"

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent\nv1,村,village,nowhere\n", encoding="utf-8")
    refused = _run(["import-areas", str(bad)], env)
    assert refused.returncode == 2 and f"{bad}:2:" in refused.stderr
