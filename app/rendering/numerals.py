"""Reading numbers the Chinese way: 110 → 一百一十, 3.14 → 三点一四, 12345 → 幺二三四五."""

from __future__ import annotations

__all__ = ["read_integer", "read_digits", "read_decimal", "read_number"]

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_SECTION_UNITS = ("", "万", "亿", "万亿")
_MAX_SECTIONS = len(_SECTION_UNITS)


def read_digits(digits: str, *, dialled: bool = False) -> str:
    """Read a digit string one digit at a time; ``dialled`` reads 1 as 幺, as when dialling."""
    table = _DIGITS.replace("一", "幺") if dialled else _DIGITS
    return "".join(table[int(d)] for d in digits if d.isdigit())


def _read_section(value: int) -> str:
    """Read 0 < value < 10000 with 千/百/十 and a single 零 for each run of inner zeros."""
    out: list[str] = []
    pending_zero = False
    for power in (3, 2, 1, 0):
        digit = value // 10**power % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[power])
    return "".join(out)


def _sections(value: int) -> list[int]:
    """Split into groups of four digits, lowest first (个, 万, 亿, 万亿)."""
    groups = []
    while value:
        groups.append(value % 10000)
        value //= 10000
    return groups


def read_integer(value: int) -> str:
    """Read a whole number: 0 → 零, 15 → 十五, 1005 → 一千零五, 20000 → 两万."""
    if value < 0:
        return "负" + read_integer(-value)
    if value == 0:
        return "零"
    groups = _sections(value)
    if len(groups) > _MAX_SECTIONS:
        return read_digits(str(value))
    parts: list[str] = []
    need_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(parts)
            continue
        if parts and (need_zero or group < 1000):
            parts.append("零")
        parts.append(_read_section(group) + _SECTION_UNITS[index])
        need_zero = False
    text = "".join(parts)
    if text.startswith("一十"):
        text = text[1:]  # 10–19 at the head are 十…, not 一十…
    if text[0] == "二" and len(text) > 1 and text[1] in "千万亿":
        text = "两" + text[1:]  # 两千, 两万, 两亿 is how it is said
    return text


def read_decimal(number: str) -> str:
    """Read a decimal string such as ``3.14`` → 三点一四 (the fraction digit by digit)."""
    whole, _, fraction = number.partition(".")
    head = read_integer(int(whole or "0"))
    return head + "点" + read_digits(fraction) if fraction else head


def read_number(number: str) -> str:
    """Read an integer or decimal string with an optional sign."""
    sign = ""
    if number[:1] in "-−":
        sign, number = "负", number[1:]
    if "." in number:
        return sign + read_decimal(number)
    return sign + read_integer(int(number))
