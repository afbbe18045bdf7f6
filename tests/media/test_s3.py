"""Shared media in an S3-compatible object store (a real server: moto's standalone S3).

Two "nodes" are two stores on the same bucket with their own local directories: what one
stores, the other finds, fetches (hash checked) and serves; a write is one PUT, never two;
a damaged or unreachable store is a clear 503, never a half-written local file.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import SettingsError, get_settings, reset_settings
from app.storage.backend import MediaConfig, open_store
from app.storage.location import S3Location, parse_media_url
from app.storage.s3 import S3MediaStore, make_s3_client
from app.storage.store import MediaStoreUnavailable
from tests.announcements.helpers import approved, files_under, wait_for_audio
from tests.conftest import District
from tests.servers import S3Server, free_port

DATA = b"ID3 not really an mp3, but bytes are bytes" * 100


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """One S3 server for the module's tests (each test uses its own prefix)."""
    with S3Server() as server:
        yield server


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test alone."""
    return f"t{abs(hash(request.node.nodeid)) % 10**8}"


def _store(s3: S3Server, root: Path, prefix: str) -> S3MediaStore:
    env = s3.env(prefix)
    config = MediaConfig(local_dir=str(root), url=env["CUNXIANG_MEDIA_URL"],
                         endpoint_url=s3.endpoint, access_key_id=s3.ACCESS_KEY,
                         secret_access_key=s3.SECRET_KEY, addressing_style="path")
    store = open_store(config)
    assert isinstance(store, S3MediaStore)
    return store


def _keys(s3: S3Server, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{prefix}/")
    return [item["Key"] for item in listed.get("Contents", [])]


def _count_puts(store: S3MediaStore) -> list[str]:
    """Keys of the PUTs this store's client sends from now on."""
    puts: list[str] = []
    store.client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: puts.append(params["url_path"]))
    return puts


def test_what_one_node_stores_the_other_fetches_checks_and_keeps(
    s3: S3Server, tmp_path: Path, prefix: str
) -> None:
    node_a, node_b = _store(s3, tmp_path / "a", prefix), _store(s3, tmp_path / "b", prefix)
    stored = node_a.put_bytes(DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    assert stored.sha256 == sha and stored.size == len(DATA)
    assert _keys(s3, prefix) == [f"{prefix}/{sha[:2]}/{sha}.mp3"]
    assert stored.path.read_bytes() == DATA  # node A keeps a copy of what it stored

    assert files_under(tmp_path / "b") == []
    assert node_b.exists(sha) and node_b.size(sha) == len(DATA)
    copy = node_b.local_path(sha)
    assert copy == tmp_path / "b" / sha[:2] / f"{sha}.mp3"
    assert copy.read_bytes() == DATA
    head = s3.client().head_object(Bucket=s3.bucket, Key=f"{prefix}/{sha[:2]}/{sha}.mp3")
    assert head["ContentType"] == "audio/mpeg" and "immutable" in head["CacheControl"]


def test_storing_the_same_bytes_again_sends_no_second_put(
    s3: S3Server, tmp_path: Path, prefix: str
) -> None:
    node_a, node_b = _store(s3, tmp_path / "a", prefix), _store(s3, tmp_path / "b", prefix)
    puts_a, puts_b = _count_puts(node_a), _count_puts(node_b)
    node_a.put_bytes(DATA)
    node_a.put_bytes(DATA)
    source = tmp_path / "same.mp3"
    source.write_bytes(DATA)
    node_b.put_file(source)
    assert len(puts_a) == 1 and puts_b == []
    assert len(_keys(s3, prefix)) == 1
    assert source.read_bytes() == DATA  # the source is left as it was


def test_put_file_stores_under_the_content_hash(s3: S3Server, tmp_path: Path, prefix: str) -> None:
    node = _store(s3, tmp_path / "a", prefix)
    source = tmp_path / "voice.mp3"
    source.write_bytes(DATA[::-1])
    stored = node.put_file(source)
    assert stored.sha256 == hashlib.sha256(DATA[::-1]).hexdigest()
    body = s3.client().get_object(Bucket=s3.bucket, Key=node.key_for(stored.sha256))["Body"]
    assert body.read() == DATA[::-1]


def test_a_damaged_object_is_refused_and_leaves_no_local_file(
    s3: S3Server, tmp_path: Path, prefix: str
) -> None:
    sha = hashlib.sha256(DATA).hexdigest()
    node = _store(s3, tmp_path / "b", prefix)
    s3.client().put_object(Bucket=s3.bucket, Key=node.key_for(sha), Body=b"tampered")
    with pytest.raises(MediaStoreUnavailable, match="does not match its hash"):
        node.local_path(sha)
    assert files_under(tmp_path / "b") == []


def test_unknown_and_malformed_hashes_are_not_stored(
    s3: S3Server, tmp_path: Path, prefix: str
) -> None:
    node = _store(s3, tmp_path / "a", prefix)
    unknown = hashlib.sha256(b"never stored").hexdigest()
    for name in (unknown, "../etc/passwd", unknown.upper(), ""):
        assert not node.exists(name)
        assert node.size(name) is None and node.local_path(name) is None
    assert files_under(tmp_path / "a") == []


def test_an_unreachable_store_fails_clearly_and_stores_nothing(tmp_path: Path) -> None:
    client = make_s3_client(endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1",
                            access_key_id="x", secret_access_key="y", addressing_style="path")
    node = S3MediaStore(S3Location("nowhere"), client=client, root=tmp_path / "a")
    with pytest.raises(MediaStoreUnavailable, match="unreachable"):
        node.put_bytes(DATA)
    with pytest.raises(MediaStoreUnavailable):
        node.check()
    assert files_under(tmp_path / "a") == []


def test_unused_local_copies_are_pruned_and_fetched_again(
    s3: S3Server, tmp_path: Path, prefix: str
) -> None:
    node = _store(s3, tmp_path / "a", prefix)
    old, fresh = node.put_bytes(DATA), node.put_bytes(DATA[::-1])
    cache_file = tmp_path / "a" / "cache" / "renders" / "ab" / "x.json"  # not a media copy
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text("{}")
    month_ago = time.time() - 30 * 86400
    os.utime(old.path, (month_ago, month_ago))
    assert node.prune_copies(unused_for_s=7 * 86400) == 1
    assert not old.path.exists() and fresh.path.exists() and cache_file.exists()
    assert node.local_path(old.sha256) == old.path and old.path.read_bytes() == DATA


def test_each_node_prunes_its_own_copies_and_render_cache(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    from app.media.housekeeping import prune_node_media
    from app.media.service import media_store
    from app.rendering.cache import RenderCache

    store = media_store()
    old, kept = store.put_bytes(DATA), store.put_bytes(DATA[::-1])
    cache = RenderCache(store.root / "cache")
    cache.put_render("ab" * 32, {"sha256": old.sha256})
    stale = time.time() - 40 * 86400  # past the 30 days of CUNXIANG_RENDER_CACHE_DAYS
    for path in (old.path, *store.root.glob("cache/renders/*/*.json")):
        os.utime(path, (stale, stale))
    assert prune_node_media() == (1, 1)
    assert not old.path.exists() and kept.path.exists()
    assert store.exists(old.sha256)  # the object store still has it


@pytest.mark.parametrize("url", ["s3://Bad_Bucket/x", "http://bucket/x", "s3://b/../x",
                                 "s3://bucket/x?y=1", "s3://ab"])
def test_a_bad_media_url_stops_the_start_naming_the_variable(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUNXIANG_MEDIA_URL", url)
    reset_settings()
    try:
        with pytest.raises(SettingsError, match="CUNXIANG_MEDIA_URL"):
            get_settings()
    finally:
        reset_settings()


def test_media_urls_name_a_bucket_and_a_prefix() -> None:
    assert parse_media_url("s3://media") == S3Location("media", "")
    assert parse_media_url("s3://media.example/a/b/") == S3Location("media.example", "a/b/")
    assert parse_media_url("s3://media/a").key("ab/x.mp3") == "a/ab/x.mp3"


# --- the service on shared media -----------------------------------------------------------


@pytest.fixture
def s3_env(env: dict[str, str], s3: S3Server, prefix: str,
           monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's environment with its media in the object store."""
    for key, value in s3.env(prefix).items():
        monkeypatch.setenv(key, value)
        env[key] = value
    reset_settings()
    return env


def _as_other_node(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on this process is another node: same database and bucket, empty local dir."""
    other = tmp_path / "other-node"
    monkeypatch.setenv("CUNXIANG_MEDIA_DIR", str(other))
    env["CUNXIANG_MEDIA_DIR"] = str(other)
    reset_settings()


def test_audio_rendered_on_one_node_is_served_by_another_with_ranges(
    s3_env: dict[str, str], s3: S3Server, prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.main import create_app

    with TestClient(create_app()) as node_a:
        admin = _admin(node_a)
        people = District(node_a, admin)
        author, reviewer = people.user("zhang", "staff", "t1"), people.user("li", "reviewer", "t1")
        ann = approved(node_a, author, reviewer)
        audio = wait_for_audio(node_a, author, ann["id"])
    assert audio["status"] == "ready", audio
    sha = audio["sha256"]
    assert f"{prefix}/{sha[:2]}/{sha}.mp3" in _keys(s3, prefix)

    _as_other_node(s3_env, tmp_path, monkeypatch)
    with TestClient(create_app()) as node_b:
        whole = node_b.get(f"/media/{sha}")
        assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == sha
        part = node_b.get(f"/media/{sha}", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        assert node_b.get(f"/media/{sha}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
        unknown = node_b.get(f"/media/{hashlib.sha256(b'x').hexdigest()}")
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert (tmp_path / "other-node" / sha[:2] / f"{sha}.mp3").read_bytes() == whole.content


def test_an_object_store_that_is_away_answers_503_not_500(
    s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.db import session_scope
    from app.main import create_app
    from app.media.service import media_store, record_media

    stored = media_store().put_bytes(DATA)
    with session_scope() as session:
        record_media(session, sha256=stored.sha256, kind="recording", size_bytes=stored.size,
                     duration_ms=1000)
    _as_other_node(s3_env, tmp_path, monkeypatch)
    monkeypatch.setenv("CUNXIANG_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    with TestClient(create_app()) as node_b:
        answer = node_b.get(f"/media/{stored.sha256}")
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "media_unavailable" and answer.headers["retry-after"]
        ready = node_b.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["media"] != "ok"
    assert files_under(tmp_path / "other-node") == []


def _admin(client: TestClient) -> dict[str, str]:
    from tests.conftest import ADMIN_PASSWORD, login

    return login(client, "admin", ADMIN_PASSWORD)
