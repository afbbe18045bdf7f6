"""Outage causes and the rules that name them from what a terminal reported (pure)."""

from __future__ import annotations

import re

__all__ = [
    "CAUSES",
    "POWER_CUT",
    "HARDWARE",
    "AMPLIFIER",
    "NETWORK",
    "VANDALISM",
    "OFFLINE",
    "OTHER",
    "POWER_CUT_BY_RESIDENT",
    "cause_of_silence",
    "cause_of_fault",
]

POWER_CUT, HARDWARE, AMPLIFIER, NETWORK = "power_cut", "hardware", "amplifier", "network"
VANDALISM, OFFLINE, OTHER = "vandalism", "offline", "other"
# 人为断电: residents pulling the plug on a speaker too loud, too early or too often; the
# power-cut report suspects it (app.maintenance.powercuts), a crew confirms it.
POWER_CUT_BY_RESIDENT = "power_cut_by_resident"
CAUSES = (POWER_CUT, HARDWARE, AMPLIFIER, NETWORK, VANDALISM, OFFLINE, OTHER,
          POWER_CUT_BY_RESIDENT)

# Words a terminal (or its installer's firmware) may put in its ``fault`` text. Checked in
# this order: "amplifier power stage" is an amplifier fault, not a power cut.
_FAULT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (VANDALISM, ("vandal", "stolen", "theft", "damage", "破坏", "被盗", "偷", "砸")),
    (AMPLIFIER, ("amplifier", "amp", "功放", "扩音")),
    (POWER_CUT, ("power", "mains", "battery", "voltage", "断电", "停电", "电源", "电池", "拉闸")),
    (NETWORK, ("network", "link", "signal", "4g", "lte", "sim", "wifi", "ethernet", "网络",
               "信号", "断网")),
)


def cause_of_silence(last_power: str | None) -> str:
    """The cause of a terminal gone silent: ``power_cut`` if it last said battery or off."""
    return POWER_CUT if last_power in ("battery", "off") else OFFLINE


def cause_of_fault(fault: str | None) -> str:
    """The cause named by a reported fault text; ``hardware`` when nothing better fits."""
    text = (fault or "").strip().lower()
    if text in CAUSES:
        return text
    for cause, words in _FAULT_WORDS:
        if any(_mentions(text, word) for word in words):
            return cause
    return HARDWARE


def _mentions(text: str, word: str) -> bool:
    # Latin words must start a word ("amp" is not in "timestamp"); Chinese has no spaces.
    if word.isascii():
        return re.search(rf"(?<![a-z]){re.escape(word)}", text) is not None
    return word in text
