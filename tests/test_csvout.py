"""CSV exports: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.csvout import csv_text, spreadsheet_cell
from tests.conftest import District
from tests.playout.orders import bearer, insert_order, register, store_media

CSV = {"Accept": "text/csv"}


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
                                  '=HYPERLINK("http://x","点")'])
def test_formula_text_gets_a_quote(text: str) -> None:
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["东一村", "1+2", "a=b", "", -3, 2.5, None, "'=already"])
def test_other_cells_are_left_as_they_are(value: object) -> None:
    assert spreadsheet_cell(value) == value


def test_csv_text_quotes_the_header_and_every_row() -> None:
    text = csv_text(["=h", "n"], [["-1", -1], ["a,b", "@x"]])
    assert list(csv.reader(io.StringIO(text))) == [["'=h", "n"], ["'-1", "-1"],
                                                    ["a,b", "'@x"]]


def test_the_exports_never_hand_a_spreadsheet_a_formula(
    client: TestClient, district: District
) -> None:
    admin = district.admin
    created = client.post("/api/v1/areas", headers=admin, json={
        "code": "t3", "name": '=HYPERLINK("http://evil.example","点我")', "level": "town",
        "parent": "d1"})
    assert created.status_code == 201, created.text
    coverage = client.get("/api/v1/reports/coverage", headers={**admin, **CSV})
    names = [r["name"] for r in csv.DictReader(io.StringIO(coverage.text))]
    assert "'=HYPERLINK(\"http://evil.example\",\"点我\")" in names and "东镇" in names

    speaker = register(client, admin, "v11", "CSV-1")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    order = insert_order("v11", start, [store_media(1.0)], title="+cmd|' /C calc'!A0",
                         not_after=start + timedelta(minutes=16))
    receipt = [{"order": order, "event": "failed", "at": start.isoformat(),
                "detail": "@SUM(1+1)*cmd"}]
    assert client.post("/terminal/v1/receipts", json=receipt,
                       headers=bearer(speaker["token"])).status_code == 200
    playlog = client.get("/api/v1/playlog", headers={**admin, **CSV})
    [row] = list(csv.DictReader(io.StringIO(playlog.text)))
    assert row["title"] == "'+cmd|' /C calc'!A0"
    assert row["detail"] == "'@SUM(1+1)*cmd"
    assert row["result"] == "failed" and datetime.fromisoformat(row["scheduled_at"]) == start
