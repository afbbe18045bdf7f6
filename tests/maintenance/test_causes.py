"""Naming an outage's cause from what the terminal said (pure)."""

from __future__ import annotations

import pytest

from app.maintenance.causes import CAUSES, cause_of_fault, cause_of_silence


@pytest.mark.parametrize(("power", "cause"), [
    ("battery", "power_cut"), ("off", "power_cut"), ("mains", "offline"), (None, "offline"),
])
def test_silence_after_battery_or_off_is_a_power_cut(power: str | None, cause: str) -> None:
    assert cause_of_silence(power) == cause


@pytest.mark.parametrize(("fault", "cause"), [
    ("amplifier", "amplifier"),
    ("功放无输出", "amplifier"),
    ("Amplifier power stage failed", "amplifier"),
    ("人为断电", "power_cut"),
    ("mains voltage low", "power_cut"),
    ("no_signal", "network"),
    ("4G link down", "network"),
    ("喇叭被砸", "vandalism"),
    ("timestamp error", "hardware"),  # "amp" inside a word is not an amplifier
    ("speaker cone torn", "hardware"),
    ("", "hardware"),
    (None, "hardware"),
])
def test_a_fault_text_names_its_cause(fault: str | None, cause: str) -> None:
    assert cause_of_fault(fault) == cause
    assert cause in CAUSES
