"""Text normalisation: what a listener hears for numbers, dates, units and punctuation."""

from __future__ import annotations

import pytest

from app.rendering.normalize import (
    PAUSE_CLAUSE_MS,
    PAUSE_COMMA_MS,
    PAUSE_PARAGRAPH_MS,
    PAUSE_SENTENCE_MS,
    Segment,
    normalize_text,
    split_segments,
)
from app.rendering.numerals import read_integer


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "零"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (2024, "两千零二十四"),
        (10010, "一万零一十"),
        (20000, "两万"),
        (100010, "十万零一十"),
        (12345678, "一千二百三十四万五千六百七十八"),
        (300000000, "三亿"),
        (1000000001, "十亿零一"),
    ],
)
def test_integers_are_read_the_chinese_way(number: int, spoken: str) -> None:
    assert read_integer(number) == spoken


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        # dates and years
        ("2024年3月5日", "二零二四年三月五日"),
        ("2024-03-05", "二零二四年三月五日"),
        ("2024/3/15", "二零二四年三月十五日"),
        ("1990年代", "一九九零年代"),
        ("近10年来", "近十年来"),
        ("12月31日", "十二月三十一日"),
        # times of day
        ("15:30", "十五点三十分"),
        ("8:05开始", "八点零五分开始"),
        ("2:00", "两点"),
        ("8:00-10:00", "八点到十点"),
        ("3月5日-7日", "三月五日到七日"),
        # integers, decimals, percentages, negatives, fractions
        ("共有2024户", "共有两千零二十四户"),
        ("1,000元", "一千元"),
        ("2个人", "两个人"),
        ("第2名", "第二名"),
        ("3.14", "三点一四"),
        ("0.5", "零点五"),
        ("完成率98.5%", "完成率百分之九十八点五"),
        ("增长5%-10%", "增长百分之五到百分之十"),
        ("下降-3", "下降负三"),
        ("1/3的村民", "三分之一的村民"),
        # ranges
        ("3-5级东北风", "三到五级东北风"),
        ("3~5天", "三到五天"),
        # units
        ("气温25℃", "气温二十五摄氏度"),
        ("最低-5℃", "最低零下五摄氏度"),
        ("20-25°C", "二十到二十五摄氏度"),
        ("降雨量50mm", "降雨量五十毫米"),
        ("全长12.5km", "全长十二点五公里"),
        ("限速60km/h", "限速六十公里每小时"),
        ("重5kg", "重五公斤"),
        ("高3m", "高三米"),
        # 2 counts (两) or numbers (二)
        ("申请2万元", "申请两万元"),
        ("化肥2袋", "化肥两袋"),
        ("观察2~3天", "观察两到三天"),
        ("凌晨2点", "凌晨两点"),
        ("2点半", "两点半"),
        ("第2针", "第二针"),
        ("3月2日", "三月二日"),
        ("2月底", "二月底"),
        ("2号窗口", "二号窗口"),
        ("2.5小时", "二点五小时"),
        ("阵风2级", "阵风二级"),
        # years, codes, money, ratios, letters with numbers
        ("2021—2025年", "二零二一到二零二五年"),
        ("在24年底前", "在二四年底前"),
        ("编号2024003", "编号二零二四零零三"),
        ("急救电话120", "急救电话幺二零"),
        ("每人¥300", "每人三百元"),
        ("按1:500的比例", "按一比五百的比例"),
        ("按2:1兑水", "按二比一兑水"),
        ("比分3:2", "比分三比二"),
        ("N95口罩", "N九五口罩"),
        ("PM2.5", "PM二点五"),
        ("６：４０", "六点四十分"),
        ("气温-3~5℃", "气温零下三到五摄氏度"),
        ("出生率5‰", "出生率千分之五"),
        ("7×24小时", "七乘二十四小时"),
        ("第1、2批", "第一、二批"),
        ("2年级学生", "二年级学生"),  # a school year is numbered, not counted
        ("2年以后", "两年以后"),
        ("2024~2025学年", "二零二四到二零二五学年"),
        ("2025学年", "二零二五学年"),
        ("请2组的村民到村部", "请二组的村民到村部"),  # a group named by its number
        ("分成2组", "分成两组"),
        ("2栋3单元", "二栋三单元"),
        ("新建2栋楼", "新建两栋楼"),
        ("村医短号：6612", "村医短号：六六幺二"),
        ("水位上涨2m", "水位上涨两米"),  # a counted 2 before a unit symbol too
        ("下降-2m", "下降负二米"),
        ("间隔2星期", "间隔两星期"),
        ("安装2盏路灯", "安装两盏路灯"),
        ("20:00—次日6:00禁行", "二十点到次日六点禁行"),
        ("休息1~2天", "休息一到两天"),
        ("面积120m²", "面积一百二十平方米"),
        # round 4 of the held-out set: more counted and numbered 2s
        ("运来2罐液化气", "运来两罐液化气"),
        ("拉来2车沙石", "拉来两车沙石"),
        ("2车间", "二车间"),  # a workshop named by its number
        ("每天2班车", "每天两班车"),
        ("连续2天2夜", "连续两天两夜"),
        ("面积2平方米", "面积两平方米"),
        ("2期工程", "二期工程"),  # a phase named by its number…
        ("培训2期", "培训两期"),  # …or two of them
        ("2组负责东片", "二组负责东片"),  # a group opening its clause is named
        ("2组人员已到位", "两组人员已到位"),
        ("分成2组", "分成两组"),
        ("启动Ⅱ级应急响应", "启动二级应急响应"),  # Roman numerals, not the letters II
        ("8时—12时", "八时到十二时"),
        ("26年春节期间", "二六年春节期间"),
        ("26年来", "二十六年来"),
        ("疫苗在2℃~8℃冷藏", "疫苗在二到八摄氏度冷藏"),
        ("5号楼302", "五号楼三零二"),  # a room after its building
        ("2栋120户", "二栋一百二十户"),
        ("小区2栋302", "小区二栋三零二"),
        ("尾号1234的车主", "尾号一二三四的车主"),
        ("身份证后四位1021", "身份证后四位一零二一"),
        ("猪肉25元/斤", "猪肉二十五元每斤"),
        # dialled and named digit strings
        ("拨打12345热线", "拨打幺二三四五热线"),
        ("手机13800138000", "手机幺三八零零幺三八零零零"),
        ("电话：0571-88886666", "电话：零五七幺，八八八八六六六六"),
        ("报警请打110", "报警请打幺幺零"),
        ("拨打110、119或者120", "拨打幺幺零、幺幺九或者幺二零"),
        ("120急救", "幺二零急救"),
        ("请拨110", "请拨幺幺零"),
        ("电话：(0551)62345678", "电话：零五五幺，六二三四五六七八"),
        ("转分机号8012", "转分机号八零幺二"),
        ("有120名志愿者", "有一百二十名志愿者"),
        ("12345元", "一万二千三百四十五元"),
        ("84消毒液", "八四消毒液"),
        ("G318国道", "G三一八国道"),
        # Latin abbreviations stay for the engine to spell
        ("PM2.5浓度", "PM二点五浓度"),
        ("CT检查", "CT检查"),
        ("WiFi覆盖", "WiFi覆盖"),
        # full-width forms and punctuation
        ("１２３４５热线", "幺二三四五热线"),
        ("请注意!!!", "请注意！"),
        ("《通知》:“不信谣、不传谣”", "通知：不信谣、不传谣"),
        ("好的,谢谢.", "好的，谢谢。"),
        ("等一下……", "等一下。"),
    ],
)
def test_script_is_rewritten_as_it_is_read_aloud(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


def test_no_digits_survive_normalisation() -> None:
    text = "2024年6月18日15:30，气温22-28℃，降雨量150mm，拨打12345或13800138000，完成98.5%。"
    assert not any(ch.isdigit() for ch in normalize_text(text))


def test_segments_pause_longer_after_sentences_than_after_commas() -> None:
    segments = split_segments(normalize_text("各位村民：明天8:30开会，请准时参加；谢谢！\n村委会"))
    assert segments == [
        Segment("各位村民：", PAUSE_CLAUSE_MS),
        Segment("明天八点三十分开会，", PAUSE_COMMA_MS),
        Segment("请准时参加；", PAUSE_CLAUSE_MS),
        Segment("谢谢！", PAUSE_PARAGRAPH_MS),
        Segment("村委会。", PAUSE_SENTENCE_MS),
    ]
    assert PAUSE_COMMA_MS < PAUSE_CLAUSE_MS < PAUSE_SENTENCE_MS < PAUSE_PARAGRAPH_MS


def test_enumeration_comma_and_question_mark_have_their_pauses() -> None:
    segments = split_segments("老人、孩子？")
    assert [s.pause_ms for s in segments] == [PAUSE_COMMA_MS, PAUSE_SENTENCE_MS]


def test_punctuation_only_has_nothing_to_say() -> None:
    assert split_segments(normalize_text("。。。！？ ，")) == []
