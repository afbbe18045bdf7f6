"""Chinese text normalisation: numbers, dates, times, units and punctuation as they are read aloud.

``normalize_text`` turns a script into what a speaker would say (二零二四年三月五日,
十五点三十分, 幺二三四五, 三到五级, 百分之五十, 二十五摄氏度), keeping Latin
abbreviations (CT, PM, WiFi) for the engine to spell. ``split_segments`` cuts the
result at punctuation and gives each boundary its pause.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from app.rendering.numerals import read_decimal, read_digits, read_integer, read_number

__all__ = [
    "Segment",
    "normalize_text",
    "split_segments",
    "NORMALIZER_VERSION",
    "PAUSE_SENTENCE_MS",
    "PAUSE_CLAUSE_MS",
    "PAUSE_COMMA_MS",
    "PAUSE_PARAGRAPH_MS",
]

#: Bump when the output of ``normalize_text`` changes, so cached renders are not reused.
NORMALIZER_VERSION = 3

PAUSE_PARAGRAPH_MS = 900
PAUSE_SENTENCE_MS = 600
PAUSE_CLAUSE_MS = 400
PAUSE_COMMA_MS = 250

_PAUSES = {
    "。": PAUSE_SENTENCE_MS,
    "！": PAUSE_SENTENCE_MS,
    "？": PAUSE_SENTENCE_MS,
    "；": PAUSE_CLAUSE_MS,
    "：": PAUSE_CLAUSE_MS,
    "，": PAUSE_COMMA_MS,
    "、": PAUSE_COMMA_MS,
    "\n": PAUSE_PARAGRAPH_MS,
}

# Words that count things: a bare 2 before them is 两 (两个人), and a number before them
# is a quantity, never a hotline (120元 is 一百二十元, 120 alone is 幺二零).
_MEASURES = (
    "个人位名户家口次天日周年月辆台件条张只头匹本部所间座栋层趟批份项种元角毛块米"
    "里亩斤吨克升度分秒小时岁倍场轮句声页"
)
# A lone 2 before these is 两 (两袋, 两万, 两点半); before 月, 日, 号, 楼, 级 it stays 二 (二月,
# 三月二日, 二号, 二楼, 二级): those number things rather than count them.
_LIANG_MEASURES = (
    "个人位名户家口次天周年辆台件条张只头匹本部所间座栋趟批份项种元角毛块米里亩斤吨克升"
    "分秒小时岁倍场轮句声页袋箱桶瓶包盒把根棵株双对套架艘处剂针支片粒遍成千万亿公届期组"
    "盏星罐枚节餐眼段夜顿桌顶床副杯碗"
)
_NUM = r"\d+(?:\.\d+)?"
_SEPARATORS = "-~～—–至"

_ASCII_PUNCT = {
    ",": "，",
    ".": "。",
    "!": "！",
    "?": "？",
    ";": "；",
    ":": "：",
    "(": "，",
    ")": "，",
    "（": "，",
    "）": "，",
    "【": "，",
    "】": "，",
    "[": "，",
    "]": "，",
    "…": "。",
    "—": "，",
    "–": "，",
    "/": "、",
    "-": " ",
    "~": " ",
}
_DROPPED = "“”\"'‘’「」『』《》〈〉<>*#_`|·•"

_EMERGENCY = "110|119|120|122"
_HOTLINES = (
    "12110|12119|12315|12320|12328|12333|12345|12348|12351|12355|"
    "12356|12358|12365|12366|12369|12379|12381|12388|12395|96\\d{3}|95\\d{3}"
)
# After these a hotline-shaped number is a quantity: 12345元, 12345万, 12345多人.
_NOT_DIALLED = _MEASURES + "公千万亿多余平立毫厘级"
_CALL_WORDS = "报警|急救|火警|电话|热线|求助|指挥|交警|救护|消防"
# After these a number is a code, read digit by digit (编号2024003 → 二零二四零零三)
_CODE_WORDS = (
    "编号|批号|代码|序号|工号|学号|房号|单号|账号|卡号|文号|车号|门牌号|订单号|验证码|"
    "口令|密码|邮编|邮政编码|型号|证号|批次号|"
    "尾号|车牌号?|牌照号?|后[四六4-6]位(?:数字|号码)?(?:是|为)?|末[四六4-6]位"
)
_RATIO_AFTER = "的?(?:比例|配比|比率|稀释|兑水|兑|混合|配制|混配)"
_RATIO_BEFORE = "比例|比分|之比|配比|比率"
_DIAL_WORDS = "电话|热线|拨打|致电|号码|手机|座机|报警|求助|咨询|举报|联系|传真|短号|分机"

_UNITS: tuple[tuple[str, str], ...] = (
    ("°C", "摄氏度"),
    ("℃", "摄氏度"),
    ("℉", "华氏度"),
    ("°", "度"),
    ("km/h", "公里每小时"),
    ("m/s", "米每秒"),
    ("kWh", "千瓦时"),
    ("kW", "千瓦"),
    ("km²", "平方公里"),
    ("km2", "平方公里"),
    ("m²", "平方米"),
    ("m2", "平方米"),
    ("m³", "立方米"),
    ("m3", "立方米"),
    ("km", "公里"),
    ("cm", "厘米"),
    ("mm", "毫米"),
    ("kg", "公斤"),
    ("mg", "毫克"),
    ("ml", "毫升"),
    ("mL", "毫升"),
    ("min", "分钟"),
    ("m", "米"),
    ("g", "克"),
    ("t", "吨"),
    ("L", "升"),
    ("h", "小时"),
    ("s", "秒"),
    ("W", "瓦"),
    ("V", "伏"),
)
_UNIT_PATTERN = "|".join(re.escape(symbol) for symbol, _ in _UNITS)
_UNIT_WORDS = dict(_UNITS)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech and the pause (ms) that follows it."""

    text: str
    pause_ms: int


def _sub(pattern: str, replace: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    """A rule: one compiled pattern and its replacement."""
    compiled = re.compile(pattern)
    return lambda text: compiled.sub(replace, text)


def _dialled(match: re.Match[str]) -> str:
    """Phone numbers: digit by digit, 1 as 幺, a short pause at each separator."""
    number_at = match.start(1) if match.lastindex else match.start()
    prefix = match.string[match.start() : number_at]
    groups = re.split(r"[\s\-—–]+", match.string[number_at : match.end()].strip())
    return prefix + "，".join(read_digits(group, dialled=True) for group in groups if group)


def _dialled_list(match: re.Match[str]) -> str:
    return re.sub(r"\d+", lambda m: read_digits(m.group(0), dialled=True), match.group(0))


def _named(match: re.Match[str]) -> str:
    """Names and codes (84消毒液, G318国道): digit by digit, 1 as 一."""
    return read_digits(match.group(1)) + match.group(2)


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    return f"{read_digits(year)}年{read_integer(month)}月{read_integer(day)}日"


def _year(match: re.Match[str]) -> str:
    return read_digits(match.group(1))


def _clock(match: re.Match[str]) -> str:
    """15:30 → 十五点三十分; 8:05 → 八点零五分; 2:00 → 两点."""
    hour, minute, second = int(match.group(1)), int(match.group(2)), match.group(3)
    spoken = ("两" if hour == 2 else read_integer(hour)) + "点"
    if minute or second:
        spoken += ("零" if minute < 10 else "") + read_integer(minute) + "分"
    if second and int(second):
        spoken += read_integer(int(second)) + "秒"
    return spoken


def _range(match: re.Match[str]) -> str:
    """3-5级 → 3到5级; 5-10% → 5%到10% so both ends are read as percentages."""
    low, low_pct, high, high_pct = match.group(1), match.group(2), match.group(3), match.group(4)
    if high_pct and not low_pct:
        low_pct = high_pct
    return f"{low}{low_pct}到{high}{high_pct}"


def _percent(match: re.Match[str]) -> str:
    sign, number = match.group(1), match.group(2)
    return ("负" if sign else "") + "百分之" + read_number(number)


def _temperature(match: re.Match[str]) -> str:
    """Temperatures below zero are 零下, as weather reports say."""
    sign, number, unit = match.group(1), match.group(2), match.group(3)
    spoken = read_number(number) + _UNIT_WORDS[unit]
    return ("零下" + spoken) if sign else spoken


def _unit(match: re.Match[str]) -> str:
    sign, number, unit = match.group(1), match.group(2), match.group(3)
    if not sign and number == "2":  # 2m, 2kg, 2L count, as 2米 does: 两
        return "两" + _UNIT_WORDS[unit]
    return ("负" if sign else "") + read_number(number) + _UNIT_WORDS[unit]


def _fraction(match: re.Match[str]) -> str:
    return read_integer(int(match.group(2))) + "分之" + read_integer(int(match.group(1)))


# …but 年级 (二年级) numbers a school year rather than counting years
# …and 2期工程 numbers a phase. 2车沙石, 2班车, 2平方米 count.
_COUNTED = re.compile(
    rf"(?:到\d+(?:\.\d+)?)?(?:(?!年级|期(?:工程|项目))[{_LIANG_MEASURES}]|点(?!\d)"
    r"|公[里斤顷]|车(?!间|站|库|牌)|班车|平方|立方)"
)


# 2组的村民, 2栋3单元: a group or building named by its number, not two of them
_NAMED_PLACE = re.compile(
    r"[组栋队班排连社](?:\d|[零一二三四五六七八九]{3}"  # 2栋302, its room already read out
    r"|的(?:村民|住户|居民|社员|学生|群众|农户|党员|家长|同学))"
)
# 2组负责东片: a group, team or class that opens its clause is named, not counted
_NAMED_AT_START = re.compile(r"[组队班](?!人|队员|成员|志愿者|同志|车)")
_CLAUSE_START = re.compile(r"(?:^|[，。！？；：、,.!?;:\n\s])$")
_ORDINAL_LIST = re.compile(r"第(?:\d+|[一二三四五六七八九十]+)[、，和及或至到-]$")


def _integer(match: re.Match[str]) -> str:
    """A plain number; a lone 2 that counts something is 两; long or 0-led strings are codes.

    2袋, 2万, 2~3天 (两到三天), 凌晨2点, 2点半 → 两; 第2针, 3月2日, 2号, 2.5 → 二.
    """
    digits = match.group(0)
    before = match.string[match.start() - 1 : match.start()]
    if len(digits) > 16 or (len(digits) > 1 and digits[0] == "0"):
        return read_digits(digits)
    counted = _COUNTED.match(match.string, match.end())
    ordinal_list = _ORDINAL_LIST.search(match.string, 0, match.start())  # 第1、2批: 二
    named = _NAMED_PLACE.match(match.string, match.end()) or (
        _NAMED_AT_START.match(match.string, match.end())
        and _CLAUSE_START.search(match.string, 0, match.start())
    )
    if digits == "2" and before not in ("第", ".") and counted and not ordinal_list and not named:
        return "两"
    return read_integer(int(digits))


def _year_range(match: re.Match[str]) -> str:
    """2021—2025年: both years digit by digit."""
    return f"{read_digits(match.group(1))}到{read_digits(match.group(2))}"


def _ratio(match: re.Match[str]) -> str:
    """1:500 → 一比五百."""
    first, second = (group for group in match.groups() if group is not None)
    return f"{read_number(first)}比{read_number(second)}"


def _temperature_range(match: re.Match[str]) -> str:
    """-3~5℃ → 零下三到五摄氏度 (each end a temperature of its own)."""
    low_sign, low, high_sign, high, unit = match.groups()
    low_said = ("零下" if low_sign else "") + read_number(low)
    high_said = ("零下" if high_sign else "") + read_number(high)
    return f"{low_said}到{high_said}{_UNIT_WORDS[unit]}"


_RULES: tuple[Callable[[str], str], ...] = (
    # 1,000,000 → 1000000 (only true thousands groups, so lists like 1,2,3 stay apart)
    _sub(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d.])", lambda m: m.group(0).replace(",", "")),
    # ¥300 → 300元
    _sub(r"[¥￥]\s*(\d+(?:\.\d+)?)", lambda m: m.group(1) + "元"),
    # dates before anything reads their dashes as ranges or minus signs
    _sub(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d.])", _iso_date),
    _sub(r"(?<![\d.])(\d{4})\s*(?:[-~～—–至到])\s*(\d{4})(?=\s*学?年)", _year_range),
    _sub(r"(?<!\d)(\d{2})(?=年(?:底|初|末|度|上半年|下半年|春节|元旦|国庆|中秋|端午|清明|汛期"
         r"|[春夏秋冬]季))", _year),
    # ratios: 1:500, 按2:1的比例 (before the clock reads 1:10 as a time)
    _sub(rf"(?<![\d:])(\d+(?:\.\d+)?)[:：](\d+(?:\.\d+)?)(?=\s*{_RATIO_AFTER})"
         rf"|(?<={_RATIO_BEFORE})[为是]?(\d+(?:\.\d+)?)[:：](\d+(?:\.\d+)?)", _ratio),
    _sub(r"(?<!\d)(\d{4})(?=学?年)", _year),
    _sub(r"(?<!\d)(\d{2})(?=年\d{1,2}月)", _year),
    _sub(r"(?<!\d)([01]?\d|2[0-4])[:：]([0-5]\d)(?:[:：]([0-5]\d))?(?!\d)", _clock),
    # 8:00-10:00, 3月5日-7日: the dash between two spoken times or dates is 到
    _sub(r"(?<=[点分秒时日号月年])\s*[-~～—–]\s*(?=\d|[零一二两三四五六七八九十]|次日|翌日)",
         lambda m: "到"),
    # what is left of the form N:M is a ratio or a score (1:500, 3:2)
    _sub(r"(?<![\d:])(\d+(?:\.\d+)?)[:：](\d+(?:\.\d+)?)(?![\d:])", _ratio),
    # dialled numbers: mobiles, landlines with area codes, 400 numbers, hotlines
    _sub(r"(?<!\d)1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)", _dialled),
    _sub(r"(?<!\d)0\d{2,3}[\-—–\s]\d{7,8}(?!\d)", _dialled),
    _sub(r"[(（]\s*(0\d{2,3})\s*[)）]\s*(\d{7,8})(?!\d)",
         lambda m: read_digits(m[1], dialled=True) + "，" + read_digits(m[2], dialled=True)),
    _sub(r"(?<!\d)[48]00[\-\s]?\d{3}[\-\s]?\d{4}(?!\d)", _dialled),
    _sub(rf"(?<=(?:{_DIAL_WORDS}))号?[：:\s是为]*(\d[\d\s\-]{{1,}}\d)(?![\d.])(?![{_NOT_DIALLED}])",
         _dialled),
    _sub(rf"(?<![\d.])(?:{_HOTLINES})(?![\d.%A-Za-z])(?![{_NOT_DIALLED}])", _dialled),
    _sub(rf"(?:(?<=[打叫拨])|(?<=报警|急救|火警))(?:{_EMERGENCY})(?!\d)", _dialled),
    _sub(rf"(?<![\d.])(?:{_EMERGENCY})(?={_CALL_WORDS})", _dialled),
    # …拨打110、119或者120: the rest of a list of emergency numbers is dialled too
    _sub(rf"(?<=[幺零九二])(?:(?:[、和]|或者?)(?:{_EMERGENCY})(?!\d))+", _dialled_list),
    # names and codes read digit by digit
    _sub(r"(?<![\d.])(\d+)(消毒液|国道|省道|县道|次列车|航班|室)", _named),
    # 5号楼302, 3单元501: a room after its building, digit by digit
    _sub(r"(?:(?<=号楼|单元)|(?<=[栋幢]))(\d{3,4})(?=室|房|号|的|住户|[，。、；\s]|$)",
         lambda m: read_digits(m[1])),
    _sub(r"(?<![Pp][Mm])(?<=[A-Za-z])(\d{2,})(?![\d.])()", _named),
    _sub(rf"((?:{_CODE_WORDS})[：:\s是为]*)(\d+)(?![\d.])", lambda m: m[1] + read_digits(m[2])),
    # ranges, then signs, percentages and units
    _sub(rf"(?<![\dA-Za-z])([-−]?)({_NUM})\s*(?:°C|℃|℉)?\s*[{_SEPARATORS}]\s*([-−]?)({_NUM})"
         r"\s*(°C|℃|℉)", _temperature_range),
    _sub(rf"(?<![\d.])({_NUM})\s*(%?)\s*[{_SEPARATORS}]\s*({_NUM})\s*(%?)", _range),
    _sub(rf"(?<![\dA-Za-z])([-−]?)({_NUM})\s*%", lambda m: _percent(m)),
    _sub(rf"(?<![\dA-Za-z])([-−]?)({_NUM})\s*‰",
         lambda m: ("负" if m.group(1) else "") + "千分之" + read_number(m.group(2))),
    _sub(r"(?<=\d)\s*×\s*(?=\d)", lambda m: "乘"),
    _sub(rf"(?<![\dA-Za-z])([-−]?)({_NUM})\s*(°C|℃|℉)", _temperature),
    _sub(rf"(?<![\dA-Za-z.])([-−]?)({_NUM})\s*({_UNIT_PATTERN})(?![A-Za-z0-9²³/])", _unit),
    _sub(r"(?<![\d/])(\d+)/(\d+)(?![\d/])", _fraction),
    _sub(r"(?<![\dA-Za-z])[-−](\d+\.\d+|\d+)", lambda m: "负" + read_number(m.group(1))),
    _sub(r"(\d+)\.(\d+)", lambda m: read_decimal(m.group(0))),
    _sub(r"(?<=[元角米里斤吨克升度])/(?=[\u4e00-\u9fff])", lambda m: "每"),
    _sub(r"\d+", _integer),
)


_ROMAN = str.maketrans(
    dict(zip("ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩⅪⅫⅰⅱⅲⅳⅴⅵⅶⅷⅸⅹ",
             ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
              "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"], strict=True))
)


def _unify_characters(text: str) -> str:
    """Full-width forms to ASCII (１２３ → 123, ％ → %, ℃ → °C), one kind of line break."""
    text = text.translate(_ROMAN)  # Ⅱ级 → 二级 (NFKC would make it the letters II)
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unify_punctuation(text: str) -> str:
    """ASCII and bracket punctuation to Chinese marks; quotes and decoration dropped."""
    text = re.sub(r"\.{3,}|…+|。{2,}", "。", text)
    text = re.sub(r"[-—–~]{2,}", "，", text)
    text = "".join(_ASCII_PUNCT.get(ch, ch) for ch in text if ch not in _DROPPED)
    text = re.sub(r"[ \t\u3000]+", " ", text)
    text = re.sub(r" *([，。！？；：、\n]) *", r"\1", text)
    text = re.sub(r"([，、；：])[，、；：]+", r"\1", text)
    text = re.sub(r"([。！？])[。！？，、；：]+", r"\1", text)
    text = re.sub(r"[，、；：]+([。！？])", r"\1", text)
    text = re.sub(r"(?<![A-Za-z]) | (?![A-Za-z])", "", text)  # spaces only between Latin words
    return text


def normalize_text(text: str) -> str:
    """Rewrite a script the way it is read aloud: no digits left, Chinese punctuation only."""
    text = _unify_characters(text)
    for rule in _RULES:
        text = rule(text)
    text = _unify_punctuation(text)
    lines = (line.strip(" ").lstrip("，、；：。！？") for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


_BOUNDARY = re.compile(r"([。！？；：，、\n])")


def split_segments(text: str) -> list[Segment]:
    """Cut normalised text at punctuation; each segment keeps its mark and gets its pause."""
    segments: list[Segment] = []
    pieces = _BOUNDARY.split(text)
    for index in range(0, len(pieces), 2):
        words = pieces[index].strip()
        mark = pieces[index + 1] if index + 1 < len(pieces) else "。"
        if not _has_speech(words):
            if segments and _PAUSES[mark] > segments[-1].pause_ms:
                last = segments[-1]
                segments[-1] = Segment(last.text, _PAUSES[mark])
            continue
        shown = words + ("" if mark == "\n" else mark)
        segments.append(Segment(shown, _PAUSES[mark]))
    return segments


def _has_speech(words: str) -> bool:
    """True if there is a character to say (Han, a letter, a digit, a syllable the lexicon set)."""
    return any(ch.isalnum() or "\ue000" <= ch <= "\uf8ff" for ch in words)
