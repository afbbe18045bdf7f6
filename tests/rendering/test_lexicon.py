"""Staff pronunciations in the pure pipeline: inline hints, lexicon words, the render key."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rendering import render_script
from app.rendering.lexicon import apply_pronunciations, parse_pinyin, strip_hints
from app.rendering.pinyin import to_pinyin
from app.storage.store import MediaStore


@pytest.mark.parametrize(
    ("script", "said"),
    [
        ("欢迎到重[chong2]庆来", "huan1 ying2 dao4 chong2 qing4 lai2"),
        ("欢迎到重［chong2］庆来", "huan1 ying2 dao4 chong2 qing4 lai2"),  # full-width
        ("六安[lu4 an1]市", "lu4 an1 shi4"),
        ("去绿[lü4]洲", "qu4 lv4 zhou1"),
        ("银行[yin2]", "yin2 yin2"),  # one syllable: the last character only
    ],
)
def test_inline_hints_decide_the_characters_before_them(script: str, said: str) -> None:
    assert to_pinyin(script) == said


def test_a_hint_that_is_not_pinyin_stays_text_and_is_not_stripped() -> None:
    assert strip_hints("重[abc]庆 [x1]") == "重[abc]庆 [x1]"
    assert to_pinyin("编号[甲]") == "bian1 hao4, jia3,"  # brackets are read as pauses
    assert strip_hints("重[chong2]庆，六安[lu4 an1]") == "重庆，六安"


def test_lexicon_words_are_read_as_entered_longest_first() -> None:
    lexicon = [("重岗", "chong2 gang3"), ("重岗村", "zhong4 gang1 cun1"), ("蚌埠", "beng4 bu4")]
    assert to_pinyin("重岗村和蚌埠", lexicon) == "zhong4 gang1 cun1 he2 beng4 bu4"
    assert to_pinyin("重岗人", lexicon) == "chong2 gang3 ren2"
    assert to_pinyin("重岗人") == "zhong4 gang3 ren2"  # no lexicon: the dictionary


def test_later_entries_win_and_only_used_ones_version_the_text() -> None:
    far, near = ("长垄", "zhang3 long3"), ("长垄", "chang2 long3")
    assert to_pinyin("长垄村", [far, near]).startswith("chang2 long3")
    unused = apply_pronunciations("长垄村", [near, ("蚌埠", "beng4 bu4")])
    alone = apply_pronunciations("长垄村", [near])
    assert unused.used == alone.used == (near,) and unused.version == alone.version != ""
    assert apply_pronunciations("别的村", [near]).version == ""


def test_pinyin_is_checked() -> None:
    assert parse_pinyin("Lu4  AN1") == ["lu4", "an1"]
    assert parse_pinyin("lü4") == ["lv4"]
    for bad in ("lu", "lu6", "xx4", "", "lu4 an"):
        assert parse_pinyin(bad) is None


def test_the_render_key_holds_the_lexicon_that_applied(store: MediaStore,
                                                        chime_dir: Path) -> None:
    text = "请长垄村村民到村委会开会。"
    plain = render_script(text, media_store=store, chime_dir=chime_dir)
    fixed = render_script(text, media_store=store, chime_dir=chime_dir,
                          lexicon=[("长垄", "chang2 long3")])
    again = render_script(text, media_store=store, chime_dir=chime_dir,
                          lexicon=[("长垄", "chang2 long3"), ("蚌埠", "beng4 bu4")])
    assert fixed.sha256 != plain.sha256 and not fixed.cached
    assert again.cached and again.sha256 == fixed.sha256  # an unused entry changes nothing
