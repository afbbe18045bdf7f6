"""The area tree: levels, duplicates, deletion guards and the all-or-nothing CSV import."""

from __future__ import annotations

from tests.conftest import District


def test_tree_paths_and_level_rules(district: District) -> None:
    client, admin = district.client, district.admin
    village = client.get("/api/v1/areas/v11", headers=admin).json()
    assert village == {"code": "v11", "name": "东一村", "level": "village", "parent": "t1",
                       "path": "d1/t1/v11", "division_code": None}
    wrong_parent = client.post("/api/v1/areas", headers=admin,
                               json={"code": "v9", "name": "村", "level": "village",
                                     "parent": "d1"})
    assert wrong_parent.status_code == 422 and "town" in wrong_parent.json()["detail"]
    orphan = client.post("/api/v1/areas", headers=admin,
                         json={"code": "t9", "name": "镇", "level": "town"})
    assert orphan.status_code == 422
    duplicate = client.post("/api/v1/areas", headers=admin,
                            json={"code": "v11", "name": "村", "level": "village", "parent": "t1"})
    assert duplicate.status_code == 409
    by_parent = client.get("/api/v1/areas?parent=t1", headers=admin).json()
    assert [a["code"] for a in by_parent["items"]] == ["v11", "v12"]
    villages = client.get("/api/v1/areas?level=village&limit=2&offset=1", headers=admin).json()
    assert villages["total"] == 3 and len(villages["items"]) == 2


def test_moving_a_town_moves_its_villages(district: District) -> None:
    client, admin = district.client, district.admin
    client.post("/api/v1/areas", json={"code": "d2", "name": "北区", "level": "district"},
                headers=admin)
    moved = client.patch("/api/v1/areas/t1", json={"parent": "d2"}, headers=admin)
    assert moved.json()["path"] == "d2/t1"
    assert client.get("/api/v1/areas/v12", headers=admin).json()["path"] == "d2/t1/v12"


def test_an_underscore_in_a_code_scopes_no_wider(district: District) -> None:
    """``_`` is a LIKE wildcard: staff of town t_1 must not see town tx1 (nor its speakers),
    nor town T_1 (SQLite's LIKE ignores case)."""
    client, admin = district.client, district.admin
    for code, level, parent in [("t_1", "town", "d1"), ("tx1", "town", "d1"),
                                ("v_a", "village", "t_1"), ("vxa", "village", "tx1")]:
        created = client.post("/api/v1/areas", headers=admin,
                              json={"code": code, "name": code, "level": level, "parent": parent})
        assert created.status_code == 201, created.text
    for village, serial in [("v_a", "U1"), ("vxa", "U2")]:
        registered = client.post("/api/v1/speakers", headers=admin,
                                 json={"serial": serial, "village": village})
        assert registered.status_code == 201, registered.text
    staff = district.user("underscore", "staff", "t_1")
    areas = client.get("/api/v1/areas?limit=100", headers=staff).json()["items"]
    assert sorted(a["code"] for a in areas) == ["t_1", "v_a"]
    speakers = client.get("/api/v1/speakers", headers=staff).json()["items"]
    assert [s["serial"] for s in speakers] == ["U1"]
    assert client.get("/api/v1/areas/vxa", headers=staff).status_code == 403
    # Codes differ by case too: T_1's village is not t_1's.
    for code, level, parent in [("T_1", "town", "d1"), ("V_A", "village", "T_1")]:
        assert client.post("/api/v1/areas", headers=admin, json={
            "code": code, "name": code, "level": level, "parent": parent}).status_code == 201
    areas = client.get("/api/v1/areas?limit=100", headers=staff).json()["items"]
    assert sorted(a["code"] for a in areas) == ["t_1", "v_a"]
    # Moving t_1 moves its own village only, not tx1's.
    client.post("/api/v1/areas", json={"code": "d2", "name": "北区", "level": "district"},
                headers=admin)
    assert client.patch("/api/v1/areas/t_1", json={"parent": "d2"},
                        headers=admin).status_code == 200
    assert client.get("/api/v1/areas/vxa", headers=admin).json()["path"] == "d1/tx1/vxa"
    assert client.get("/api/v1/areas/v_a", headers=admin).json()["path"] == "d2/t_1/v_a"


def test_deleting_a_used_area_is_409(district: District) -> None:
    client, admin = district.client, district.admin
    assert client.delete("/api/v1/areas/t1", headers=admin).status_code == 409
    district.user("feng", "staff", "v12")
    used = client.delete("/api/v1/areas/v12", headers=admin)
    assert used.status_code == 409
    assert client.get("/api/v1/areas/v12", headers=admin).status_code == 200
    assert client.delete("/api/v1/areas/v11", headers=admin).status_code == 204
    assert client.get("/api/v1/areas/v11", headers=admin).status_code == 404


def _import(district: District, text: str):  # type: ignore[no-untyped-def]
    return district.client.post("/api/v1/areas/import", content=text.encode(),
                                headers={**district.admin, "Content-Type": "text/csv"})


def test_csv_import_creates_and_updates(district: District) -> None:
    text = ("code,name,level,parent\n"
            "v31,南一村,village,t3\n"      # the parent comes later in the file
            "t3,南镇,town,d1\n"
            "v11,东一村(改),village,t1\n")
    result = _import(district, text)
    assert result.status_code == 200 and result.json() == {"created": 2, "updated": 1}
    area = district.client.get("/api/v1/areas/v31", headers=district.admin).json()
    assert area["path"] == "d1/t3/v31"
    assert _import(district, text).json() == {"created": 0, "updated": 0}


def test_csv_import_with_a_bad_line_changes_nothing(district: District) -> None:
    before = district.client.get("/api/v1/areas?limit=1000", headers=district.admin).json()
    text = ("code,name,level,parent\n"
            "t4,北镇,town,d1\n"
            "v41,北一村,village,t4\n"
            "v42,北二村,hamlet,t4\n"
            "v43,北三村,village,nowhere\n")
    result = _import(district, text)
    assert result.status_code == 422
    body = result.json()
    assert body["error"] == "invalid_csv" and body["detail"]
    assert [e["line"] for e in body["errors"]] == [4, 5]
    assert "level" in body["errors"][0]["detail"] and "nowhere" in body["errors"][1]["detail"]
    after = district.client.get("/api/v1/areas?limit=1000", headers=district.admin).json()
    assert after == before


def test_csv_import_moving_an_area_out_of_ones_area_is_a_line_error(district: District) -> None:
    client, admin = district.client, district.admin
    staff = district.user("li", "staff", "t1")
    before = client.get("/api/v1/areas?limit=1000", headers=admin).json()
    text = ("code,name,level,parent\n"
            "v13,东三村,village,t1\n"
            "v12,东二村(改),village,t1\n"
            "v11,东一村,village,t2\n")   # t2 is outside staff's town
    result = client.post("/api/v1/areas/import", content=text.encode(),
                         headers={**staff, "Content-Type": "text/csv"})
    assert result.status_code == 422, result.text
    body = result.json()
    assert body["error"] == "invalid_csv" and body["detail"]
    assert [e["line"] for e in body["errors"]] == [4]
    assert "t2" in body["errors"][0]["detail"]
    assert client.get("/api/v1/areas?limit=1000", headers=admin).json() == before


def test_csv_import_rejects_a_wrong_header_and_non_utf8(district: District) -> None:
    assert _import(district, "a,b\n1,2\n").json()["errors"][0]["line"] == 1
    latin = district.client.post("/api/v1/areas/import", content="code,name,level,parent\n"
                                 "x,caf\xe9,district,\n".encode("latin-1"),
                                 headers={**district.admin, "Content-Type": "text/csv"})
    assert latin.status_code == 422


def test_an_empty_parent_is_no_parent(district: District) -> None:
    """``{"parent": ""}``: nothing to change for a district, a refusal for a town (was 500)."""
    client, admin = district.client, district.admin
    district_area = client.patch("/api/v1/areas/d1", json={"parent": ""}, headers=admin)
    assert district_area.status_code == 200, district_area.text
    assert district_area.json()["parent"] is None
    town = client.patch("/api/v1/areas/t1", json={"parent": ""}, headers=admin)
    assert town.status_code == 422 and "needs a parent" in town.json()["detail"]
    assert client.get("/api/v1/areas/t1", headers=admin).json()["parent"] == "d1"
