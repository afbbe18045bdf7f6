"""Script → stored announcement MP3: loudness, length, chimes, drills, and the cache."""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from app.rendering import render_script
from app.rendering.engines.command import CommandEngine
from app.rendering.errors import EmptyScript, SynthesisFailed, UnknownEngine
from app.rendering.normalize import split_segments
from app.rendering.render import DRILL_CLOSING, DRILL_OPENING
from app.storage.store import MediaStore
from tests.rendering.audio_samples import loudness_and_peak, probe
from tests.rendering.conftest import spoken_texts

NOTICE = "各位村民请注意：明天上午9:00到11:30停电检修，请提前做好准备。"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_rendered_announcement_is_loudness_normalised_mono_mp3(
    store: MediaStore, chime_dir: Path
) -> None:
    result = render_script(NOTICE, engine="espeak", media_store=store, chime_dir=chime_dir)
    assert result.path == store.path_for(result.sha256)
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == result.sha256
    stream = probe(result.path)["streams"][0]
    assert (stream["codec_name"], stream["channels"]) == ("mp3", 1)
    loudness, peak = loudness_and_peak(result.path)
    assert loudness == pytest.approx(-16.0, abs=1.0)
    assert peak <= -1.0
    assert result.loudness_lufs == pytest.approx(-16.0, abs=1.0)


def test_duration_is_plausible_for_the_text(store: MediaStore) -> None:
    text = "各位村民，明天上午开会，请准时参加。"
    result = render_script(text, engine="espeak", media_store=store, chime=False)
    spoken_chars = len(text) - 3  # the punctuation is pauses
    seconds = float(probe(result.path)["format"]["duration"])
    assert 0.1 * spoken_chars <= seconds <= 0.5 * spoken_chars
    assert result.duration_ms / 1000 == pytest.approx(seconds, abs=0.1)


def test_chimes_open_and_close_the_announcement(store: MediaStore, chime_dir: Path) -> None:
    plain = render_script("请注意。", engine="espeak", media_store=store, chime=False)
    chimed = render_script("请注意。", engine="espeak", media_store=store, chime_dir=chime_dir)
    # two chimes of about 1.9 s and two gaps of 0.5 s
    assert chimed.duration_ms - plain.duration_ms == pytest.approx(4880, abs=50)
    assert chimed.sha256 != plain.sha256


def test_the_same_text_is_never_synthesised_twice(
    store: MediaStore, fake_tts: tuple[str, Path]
) -> None:
    command, log = fake_tts
    engine = CommandEngine(command=command)
    first = render_script("通知：明天开会。", engine=engine, media_store=store, chime=False)
    again = render_script("通知：明天开会。", engine=engine, media_store=store, chime=False)
    # segments are synthesised in parallel: the order they reach the engine varies
    assert sorted(spoken_texts(log)) == sorted(["通知：", "明天开会。"])
    assert (again.cached, again.sha256) == (True, first.sha256)
    # another script sharing a sentence: only the new sentence is synthesised
    render_script("通知：后天开会。", engine=engine, media_store=store, chime=False)
    assert sorted(spoken_texts(log)) == sorted(["通知：", "明天开会。", "后天开会。"])


def test_a_cached_render_whose_file_was_lost_is_made_again(
    store: MediaStore, fake_tts: tuple[str, Path]
) -> None:
    engine = CommandEngine(command=fake_tts[0])
    first = render_script("明天开会。", engine=engine, media_store=store, chime=False)
    first.path.unlink()
    again = render_script("明天开会。", engine=engine, media_store=store, chime=False)
    assert not again.cached
    assert again.sha256 == first.sha256 and again.path.is_file()
    assert spoken_texts(fake_tts[1]) == ["明天开会。"]  # the speech itself was still cached


def test_drill_opens_and_closes_with_the_notice(
    store: MediaStore, fake_tts: tuple[str, Path]
) -> None:
    command, log = fake_tts
    engine = CommandEngine(command=command)
    actual = render_script("请立即转移。", engine=engine, media_store=store, chime=False)
    drill = render_script("请立即转移。", engine=engine, media_store=store, chime=False, drill=True)
    said = spoken_texts(log)
    assert said[0] == "请立即转移。"  # the body was cached: the drill only adds the notices
    notices = [s.text for s in split_segments(f"{DRILL_OPENING}\n{DRILL_CLOSING}")]
    assert sorted(said[1:]) == sorted(notices)
    assert any("演习" in text for text in notices)
    assert drill.sha256 != actual.sha256
    assert drill.duration_ms > actual.duration_ms + 2000


def test_empty_scripts_and_unknown_engines_are_refused(store: MediaStore) -> None:
    with pytest.raises(EmptyScript) as empty:
        render_script("。，！ ", media_store=store)
    assert (empty.value.code, empty.value.status) == ("empty_script", 422)
    with pytest.raises(UnknownEngine):
        render_script("你好", engine="no_such_voice", media_store=store)


def test_a_failing_engine_stores_nothing(store: MediaStore) -> None:
    engine = CommandEngine(command="sh -c 'exit 1'")
    with pytest.raises(SynthesisFailed):
        render_script("你好。", engine=engine, media_store=store, chime=False)
    assert [p for p in _files(store.root) if p.suffix == ".mp3"] == []


def test_renders_run_in_a_process_pool(store: MediaStore, chime_dir: Path) -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(
            render_script, "请注意。", engine="espeak", media_store=store, chime_dir=chime_dir
        )
        result = future.result(timeout=60)
    assert store.exists(result.sha256)
    again = render_script("请注意。", engine="espeak", media_store=store, chime_dir=chime_dir)
    assert again.cached and again.sha256 == result.sha256


def test_a_torn_cache_file_is_ignored_and_replaced(
    store: MediaStore, fake_tts: tuple[str, Path]
) -> None:
    command, log = fake_tts
    engine = CommandEngine(command=command)
    first = render_script("明天开会。", engine=engine, media_store=store, chime=False)
    (cached,) = (store.root / "cache" / "speech").rglob("*.wav")
    cached.write_bytes(cached.read_bytes()[:1000])  # as if the machine died mid-write
    for record in (store.root / "cache" / "renders").rglob("*.json"):
        record.unlink()
    again = render_script("明天开会。", engine=engine, media_store=store, chime=False)
    assert again.sha256 == first.sha256
    assert spoken_texts(log) == ["明天开会。", "明天开会。"]


def test_the_cache_loses_only_what_was_not_used_lately(
    store: MediaStore, fake_tts: tuple[str, Path]
) -> None:
    """Pruning removes entries unused for the period; a recent hit keeps one; nothing breaks."""
    import os
    import time

    from app.rendering.cache import RenderCache
    from app.rendering.render import default_cache_dir

    engine = CommandEngine(command=fake_tts[0])
    kept = render_script("今天停水。", engine=engine, media_store=store, chime=False)
    dropped = render_script("明天停电。", engine=engine, media_store=store, chime=False)
    cache_dir = default_cache_dir(store)
    month_ago = time.time() - 40 * 86400
    for path in _files(cache_dir):
        os.utime(path, (month_ago, month_ago))
    assert render_script("今天停水。", engine=engine, media_store=store, chime=False).cached
    dead_write = cache_dir / "speech" / "ab" / ".incoming-dead.part"
    live_write = cache_dir / "speech" / "ab" / ".incoming-live.part"
    for path in (dead_write, live_write):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    os.utime(dead_write, (time.time() - 7200, time.time() - 7200))

    before = _files(cache_dir)
    result = RenderCache(cache_dir).prune(unused_for_s=30 * 86400)
    after = _files(cache_dir)
    # "明天停电。"'s speech and render record; "今天停水。"'s speech (its render record was
    # hit, so the speech was not needed); the dead write's leftover
    assert result.files == 4 == len(before) - len(after) and result.bytes > 0
    assert dead_write not in after and live_write in after
    assert render_script("今天停水。", engine=engine, media_store=store, chime=False).cached
    assert spoken_texts(fake_tts[1]) == ["今天停水。", "明天停电。"]
    again = render_script("明天停电。", engine=engine, media_store=store, chime=False)
    assert (again.cached, again.sha256) == (False, dropped.sha256)  # made again, the same
    assert spoken_texts(fake_tts[1]) == ["今天停水。", "明天停电。", "明天停电。"]
    assert kept.path.is_file() and dropped.path.is_file()  # stored media are never pruned
