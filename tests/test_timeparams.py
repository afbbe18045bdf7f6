"""Times in query parameters: local when without an offset, 422 outside 1900–9000."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PERIODS = ["/api/v1/audit", "/api/v1/playlog", "/api/v1/reports/maintenance",
           "/api/v1/villages/v11/calendar"]


@pytest.mark.parametrize("moment", ["0001-01-01", "0001-01-01T00:00:00%2B14:00",
                                    "9999-12-31T23:59:59-14:00", "1899-12-31"])
def test_an_unreal_time_is_422_not_500(
    client: TestClient, admin: dict[str, str], district: Any, moment: str
) -> None:
    for path in PERIODS:
        for name in ("from", "to"):
            answer = client.get(f"{path}?{name}={moment}", headers=admin)
            assert answer.status_code == 422, (path, name, answer.text)
            assert "1900" in answer.json()["detail"]


def test_times_far_but_real_are_answered(
    client: TestClient, admin: dict[str, str], district: Any
) -> None:
    for path in PERIODS[:3]:
        answer = client.get(f"{path}?from=1900-01-01&to=8999-12-31", headers=admin)
        assert answer.status_code == 200, (path, answer.text)
    calendar = client.get(f"{PERIODS[3]}?from=1900-01-01", headers=admin)
    assert calendar.status_code == 200 and calendar.json()["items"] == []
