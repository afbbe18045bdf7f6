"""Each context rule of ``data/polyphone_rules.tsv`` reads its own example right."""

from __future__ import annotations

import re

import pytest

from app.rendering.phrasebook import Phrasebook, phrasebook
from app.rendering.pinyin import syllables
from app.rendering.polyphones import read_han, rules, segment


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: f"line{rule.line}-{rule.char}")
def test_rule_reads_its_example(rule) -> None:  # type: ignore[no-untyped-def]
    at = rule.example.index("【")
    text = rule.example.replace("【", "").replace("】", "")
    assert re.fullmatch(r"[\u4e00-\u9fff]+", text), "examples are plain Han text"
    assert text[at] == rule.char
    assert syllables(text)[at] == rule.reading


def test_rules_change_what_the_dictionary_says() -> None:
    """Without the rules these examples are read the dictionary's way, which is wrong here."""
    examples = {"大家得提前": ("得", "dei3"), "更好地保护": ("地", "de5"),
                "逾期视为放弃": ("为", "wei2"), "请量体温": ("量", "liang2"),
                "这场大雨": ("场", "chang2"), "排成一行": ("行", "hang2")}
    for text, (char, wanted) in examples.items():
        said = read_han(text)
        assert said[text.index(char)] == wanted


def test_segmentation_prefers_fewest_words_then_common_ones() -> None:
    book = Phrasebook(phrases={"每天": "", "天都": "~tian1 du1", "都要": ""},
                      chars={ch: "x1" for ch in "每天都要测"})
    assert segment("每天都要测", book) == ["每天", "都要", "测"]
    book = Phrasebook(phrases={"每天": "", "天都": "~tian1 du1"},
                      chars={ch: "x1" for ch in "每天都要测"})
    assert segment("每天都要测", book) == ["每天", "都", "要", "测"]


def test_the_phrasebook_holds_every_word_and_the_readings_that_differ() -> None:
    book = phrasebook()
    assert book.reading("银行") == "yin2 hang2"
    assert book.reading("接种") == "jie1 zhong4"  # from pypinyin-dict's phrases
    assert book.reading("商品") == ""  # a word read as its characters are
    assert book.char("行") == "xing2"
    assert read_han("好处") == ["hao3", "chu4"]  # the project's phrases win (large: chu3)


def test_the_phrasebook_file_is_built_once_and_loaded_after(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.rendering import phrasebook as module

    builds: list[int] = []
    small = Phrasebook(phrases={"银行": "yin2 hang2"}, chars={"行": "xing2"})

    def counted_build() -> Phrasebook:
        builds.append(1)
        return small

    monkeypatch.setenv("CUNXIANG_PHRASE_CACHE", str(tmp_path))
    monkeypatch.setattr(module, "build", counted_build)
    phrasebook.cache_clear()
    try:
        assert phrasebook() == small and len(builds) == 1
        files = list(tmp_path.glob("phrasebook-*.marshal"))
        assert len(files) == 1 and not list(tmp_path.glob(".incoming-*"))
        phrasebook.cache_clear()
        assert phrasebook() == small and len(builds) == 1  # loaded, not built
        files[0].write_bytes(b"torn")  # a torn file is rebuilt, not trusted
        phrasebook.cache_clear()
        assert phrasebook() == small and len(builds) == 2
    finally:
        phrasebook.cache_clear()


def test_rules_from_the_held_out_set_do_not_overreach() -> None:
    """Each held-out fix keeps to its context: the neighbouring readings stay as they were."""
    examples = {"天气闷得让人喘不过气": ("得", "de5"), "得知道路封闭": ("得", "de2"),
                "吓得把碗摔了": ("得", "de5"), "把握当前机遇": ("当", "dang1"),
                "请背着老人转移": ("背", "bei1"), "依法从重打击": ("重", "zhong4"),
                "水位还上涨了": ("还", "hai2"), "应急物资": ("应", "ying4"),
                "上将": ("将", "jiang4")}
    for text, (char, wanted) in examples.items():
        assert read_han(text)[text.index(char)] == wanted, text
    assert read_han("铺撒") == ["pu1", "sa3"]  # a phrase of data/phrases.tsv


def test_round_four_rules_keep_to_their_context() -> None:
    """干死, 扎成捆, 空着, 待着, 把…数好, 都倒了: the readings beside them stay as they were."""
    examples = {"空着手回来": ("空", "kong1"), "等待着救援": ("待", "dai4"),
                "把人数清点一下": ("数", "shu4"), "把剩饭倒了": ("倒", "dao4"),
                "看着天空": ("看", "kan4"), "获得由政府颁发的证书": ("得", "de2"),
                "在家待着": ("待", "dai1"), "秧苗要分开种": ("种", "zhong4")}
    for text, (char, wanted) in examples.items():
        assert read_han(text)[text.index(char)] == wanted, text
