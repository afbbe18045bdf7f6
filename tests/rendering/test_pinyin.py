"""Pinyin for the espeak engine: polyphones in context, numbers read the Chinese way."""

from __future__ import annotations

import pytest

from app.rendering.pinyin import syllables, to_pinyin, to_pinyin_lines

CASES = [
    ("请到银行办理", "qing3 dao4 yin2 hang2 ban4 li3"),
    ("重新登记", "chong2 xin1 deng1 ji4"),
    ("孩子长大了", "hai2 zi5 zhang3 da4 le5"),
    ("立即行动起来", "li4 ji2 xing2 dong4 qi3 lai5"),
    ("还是要注意安全", "hai2 shi5 yao4 zhu4 yi4 an1 quan2"),
    ("都市生活", "du1 shi4 sheng1 huo2"),
    ("大家都是好邻居", "da4 jia1 dou1 shi4 hao3 lin2 ju1"),
    ("这很重要", "zhe4 hen3 zhong4 yao4"),
    ("了解情况", "liao3 jie3 qing2 kuang4"),
    ("准备好了", "zhun3 bei4 hao3 le5"),
    ("音乐广场", "yin1 yue4 guang3 chang3"),
    ("快乐生活", "kuai4 le4 sheng1 huo2"),
    ("朝阳升起", "zhao1 yang2 sheng1 qi3"),
    ("历史朝代", "li4 shi3 chao2 dai4"),
    ("的确如此", "di2 que4 ru2 ci3"),
    ("这个地方", "zhe4 ge5 di4 fang1"),
    ("银行卡丢失", "yin2 hang2 ka3 diu1 shi1"),
    ("开展调查", "kai1 zhan3 diao4 cha2"),
    ("空调外机", "kong1 tiao2 wai4 ji1"),
    ("长城", "chang2 cheng2"),
    ("健康成长", "jian4 kang1 cheng2 zhang3"),
    ("银行行长", "yin2 hang2 hang2 zhang3"),
    ("各行各业", "ge4 hang2 ge4 ye4"),
    ("还款", "huan2 kuan3"),
    ("尽快还钱", "jin3 kuai4 huan2 qian2"),
    ("着火了", "zhao2 huo3 le5"),
    ("看着孩子", "kan4 zhe5 hai2 zi5"),
    ("种地", "zhong4 di4"),
    ("种子", "zhong3 zi5"),
    ("长江", "chang2 jiang1"),
    ("乐队", "yue4 dui4"),
    ("调整", "tiao2 zheng3"),
    ("调动", "diao4 dong4"),
    ("处理", "chu3 li3"),
    ("好处", "hao3 chu4"),
    ("睡觉", "shui4 jiao4"),
    ("觉得", "jue2 de5"),
    ("会计", "kuai4 ji4"),
    ("出差", "chu1 chai1"),
    ("差不多", "cha4 bu5 duo1"),
    ("流血", "liu2 xue4"),
    ("献血", "xian4 xue4"),
    ("慢慢地走", "man4 man4 de5 zou3"),
    ("变质的食物", "bian4 zhi4 de5 shi2 wu4"),
    ("朝阳区", "chao2 yang2 qu1"),
    ("重庆", "chong2 qing4"),
    ("数一数", "shu3 yi1 shu3"),
    ("传记", "zhuan4 ji4"),
    ("中毒", "zhong4 du2"),
    ("参加", "can1 jia1"),
    ("人参", "ren2 shen1"),
    ("应该", "ying1 gai1"),
    ("答应", "da1 ying5"),
    ("2024年3月5日", "er4 ling2 er4 si4 nian2 san1 yue4 wu3 ri4"),
    ("15:30", "shi2 wu3 dian3 san1 shi2 fen1"),
    ("拨打12345", "bo1 da3 yao1 er4 san1 si4 wu3"),
    ("84消毒液", "ba1 si4 xiao1 du2 ye4"),
    ("3-5级", "san1 dao4 wu3 ji2"),
    ("气温-5℃", "qi4 wen1 ling2 xia4 wu3 she4 shi4 du4"),
    ("CT检查", "xi1 ti4 jian3 cha2"),
    ("PM2.5", "pi4 ai2 mu5 er4 dian3 wu3"),
    ("WiFi", "wai4 fai1"),
    ("女儿绿色", "nv3 er2 lv4 se4"),
    ("朋友们", "peng2 you5 men5"),
]


@pytest.mark.parametrize(("text", "pinyin"), CASES)
def test_polyphones_and_numbers_get_the_right_pinyin(text: str, pinyin: str) -> None:
    assert to_pinyin(text) == pinyin


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_one_output_line_per_input_line() -> None:
    script = "各位村民：请到银行办理。\n\n重新登记，谢谢！\n"
    assert to_pinyin_lines(script) == [
        "ge4 wei4 cun1 min2: qing3 dao4 yin2 hang2 ban4 li3.",
        "",
        "chong2 xin1 deng1 ji4, xie4 xie5!",
    ]


def test_syllables_leave_punctuation_out() -> None:
    assert syllables("银行，重新。") == ["yin2", "hang2", "chong2", "xin1"]


def test_every_syllable_is_tone_numbered() -> None:
    text = "根据县气象台二零二四年六月十八日发布的预报，请大家注意收听村里的大喇叭。"
    assert all(s[-1] in "12345" for s in syllables(text))
