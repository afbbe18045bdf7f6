"""The review workflow through the API: revisions, transitions, who may approve, area scoping."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.announcements.helpers import SHORT_TEXT, action, create


def test_create_answers_201_with_a_draft_first_revision(client: TestClient, people) -> None:
    body = {"title": "防汛通知", "body": SHORT_TEXT, "area": "t1", "category": "防汛"}
    response = client.post("/api/v1/announcements", json=body, headers=people["staff"])
    assert response.status_code == 201, response.text
    ann = response.json()
    assert ann["id"]
    shown = ("title", "body", "area", "category", "status", "revision", "audio")
    assert {k: ann[k] for k in shown} == {
        "title": "防汛通知", "body": SHORT_TEXT, "area": "t1", "category": "防汛",
        "status": "draft", "revision": 1, "audio": None,
    }
    again = client.get(f"/api/v1/announcements/{ann['id']}", headers=people["reviewer"])
    assert again.status_code == 200 and again.json()["title"] == "防汛通知"


def test_body_may_hold_20000_characters_but_not_more(client: TestClient, people) -> None:
    base = {"title": "长文", "area": "t1"}
    ok = client.post("/api/v1/announcements", json={**base, "body": "通" * 20_000},
                     headers=people["staff"])
    assert ok.status_code == 201, ok.text
    too_long = client.post("/api/v1/announcements", json={**base, "body": "通" * 20_001},
                           headers=people["staff"])
    assert too_long.status_code == 422
    assert too_long.json()["error"] == "validation_error"


@pytest.mark.parametrize("body", [
    {"title": "  ", "body": "内容", "area": "t1"},
    {"title": "标题", "body": "   ", "area": "t1"},
    {"title": "标题", "area": "t1"},
    {"title": "标题", "body": "内容", "area": "t1", "colour": "red"},
])
def test_bad_input_is_422_never_500(client: TestClient, people, body) -> None:
    response = client.post("/api/v1/announcements", json=body, headers=people["staff"])
    assert response.status_code == 422, response.text
    assert set(response.json()) >= {"error", "detail"}


def test_area_scoping_unknown_and_outside(client: TestClient, people) -> None:
    body = {"title": "通知", "body": SHORT_TEXT}
    assert client.post("/api/v1/announcements", json={**body, "area": "nowhere"},
                       headers=people["staff"]).status_code == 404
    assert client.post("/api/v1/announcements", json={**body, "area": "t2"},
                       headers=people["staff"]).status_code == 403
    ann = create(client, people["staff"])
    assert client.get(f"/api/v1/announcements/{ann['id']}",
                      headers=people["staff2"]).status_code == 403
    assert client.patch(f"/api/v1/announcements/{ann['id']}", json={"title": "改"},
                        headers=people["staff2"]).status_code == 403
    assert client.get("/api/v1/announcements/ann_missing",
                      headers=people["staff"]).status_code == 404
    assert client.get(f"/api/v1/announcements/{ann['id']}").status_code == 401


def test_patch_makes_a_new_revision_back_to_draft_and_keeps_history(
    client: TestClient, people
) -> None:
    ann = create(client, people["staff"], title="第一版")
    action(client, people["staff"], ann["id"], "submit")
    response = client.patch(f"/api/v1/announcements/{ann['id']}",
                            json={"body": "村民们请注意，会议改到下午三点。"},
                            headers=people["staff"])
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["revision"], changed["status"], changed["title"]) == (2, "draft", "第一版")
    history = client.get(f"/api/v1/announcements/{ann['id']}/revisions",
                         headers=people["staff"]).json()
    assert history["total"] == 2
    assert [(r["revision"], r["status"]) for r in history["items"]] == [
        (2, "draft"), (1, "pending_review")]
    assert history["items"][1]["body"] == SHORT_TEXT  # revision 1 is unchanged
    first = client.get(f"/api/v1/announcements/{ann['id']}/revisions/1", headers=people["staff"])
    assert first.status_code == 200 and first.json()["body"] == SHORT_TEXT
    assert client.patch(f"/api/v1/announcements/{ann['id']}", json={"area": "t2"},
                        headers=people["staff"]).status_code == 422
    for unchanged in ({}, {"body": "村民们请注意，会议改到下午三点。"}, {"title": "第一版"}):
        same = client.patch(f"/api/v1/announcements/{ann['id']}", json=unchanged,
                            headers=people["staff"])
        assert same.status_code == 200  # nothing changed: no revision
        assert (same.json()["revision"], same.json()["status"]) == (2, "draft")


def test_review_workflow_transitions(client: TestClient, people, events) -> None:
    staff, reviewer = people["staff"], people["reviewer"]
    ann = create(client, staff)
    action(client, reviewer, ann["id"], "approve", expect=409)  # a draft is not under review
    action(client, reviewer, ann["id"], "reject", expect=409, reason="不对")
    submitted = action(client, staff, ann["id"], "submit")
    assert submitted["status"] == "pending_review"
    action(client, staff, ann["id"], "submit", expect=409)
    rejected = action(client, reviewer, ann["id"], "reject", reason="时间写错了")
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "时间写错了")
    action(client, staff, ann["id"], "submit", expect=409)  # fix it first: a new revision
    client.patch(f"/api/v1/announcements/{ann['id']}", json={"body": "会议改到十点。"},
                 headers=staff)
    action(client, staff, ann["id"], "submit")
    approved = action(client, reviewer, ann["id"], "approve")
    assert (approved["status"], approved["revision"], approved["approved_revision"]) == (
        "approved", 2, 2)
    action(client, reviewer, ann["id"], "approve", expect=409)
    assert ("announcement.approved", {"announcement_id": ann["id"]}) in events
    # A later edit is a draft; the approved revision stays the one that plays.
    edited = client.patch(f"/api/v1/announcements/{ann['id']}", json={"title": "新标题"},
                          headers=staff).json()
    assert (edited["status"], edited["revision"], edited["approved_revision"]) == ("draft", 3, 2)


def test_reject_needs_a_reason(client: TestClient, people) -> None:
    ann = create(client, people["staff"])
    action(client, people["staff"], ann["id"], "submit")
    response = client.post(f"/api/v1/announcements/{ann['id']}/reject", json={"reason": " "},
                           headers=people["reviewer"])
    assert response.status_code == 422


def test_the_author_never_approves_their_own_revision(client: TestClient, people) -> None:
    admin = people["admin"]
    ann = create(client, admin)
    action(client, admin, ann["id"], "submit")
    refused = action(client, admin, ann["id"], "approve", expect=403)
    assert refused["error"] == "forbidden"
    assert action(client, people["admin2"], ann["id"], "approve")["status"] == "approved"


def test_only_reviewers_of_the_area_approve(client: TestClient, people) -> None:
    ann = create(client, people["staff"])
    action(client, people["staff"], ann["id"], "submit")
    action(client, people["staff"], ann["id"], "approve", expect=403)  # staff cannot review
    action(client, people["reviewer_t2"], ann["id"], "approve", expect=403)  # another town
    action(client, people["reviewer_t2"], ann["id"], "reject", expect=403, reason="不行")
    action(client, people["reviewer"], ann["id"], "submit", expect=403)  # reviewers do not write
    assert action(client, people["district_reviewer"], ann["id"], "approve")["status"] == "approved"


def test_list_by_area_and_status(client: TestClient, people) -> None:
    a1 = create(client, people["staff"], title="一")
    a2 = create(client, people["staff"], title="二")
    b1 = create(client, people["staff2"], area="t2", title="三")
    action(client, people["staff"], a2["id"], "submit")

    def ids(headers: dict[str, str], query: str = "") -> set[str]:
        response = client.get(f"/api/v1/announcements{query}", headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(page["items"])
        return {a["id"] for a in page["items"]}

    assert ids(people["staff"]) == {a1["id"], a2["id"]}
    assert ids(people["staff2"]) == {b1["id"]}
    assert ids(people["admin"]) == {a1["id"], a2["id"], b1["id"]}
    assert ids(people["admin"], "?area=t2") == {b1["id"]}
    assert ids(people["reviewer"], "?status=pending_review") == {a2["id"]}
    assert ids(people["admin"], "?area=t1&status=draft") == {a1["id"]}
    assert client.get("/api/v1/announcements?area=t2", headers=people["staff"]).status_code == 403
    assert client.get("/api/v1/announcements?status=bogus",
                      headers=people["staff"]).status_code == 422
    page = client.get("/api/v1/announcements?limit=1", headers=people["admin"]).json()
    assert (len(page["items"]), page["total"]) == (1, 3)


def test_every_change_is_audited(client: TestClient, people) -> None:
    ann = create(client, people["staff"])
    client.patch(f"/api/v1/announcements/{ann['id']}", json={"title": "改"},
                 headers=people["staff"])
    action(client, people["staff"], ann["id"], "submit")
    action(client, people["reviewer"], ann["id"], "reject", reason="再改")
    log = client.get("/api/v1/audit?area=t1", headers=people["admin"]).json()["items"]
    mine = [(e["actor"], e["action"]) for e in log if e["entity_id"] == ann["id"]]
    assert sorted(mine) == sorted([("user:zhang", "create"), ("user:zhang", "update"),
                                   ("user:zhang", "submit"), ("user:li", "reject")])
