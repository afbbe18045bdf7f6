"""The console's Chinese: the message table is sound and reads real API errors in Chinese."""

from __future__ import annotations

import re

from app.console.i18n import MESSAGES, in_chinese, translate_error, translate_message

JS_UNSAFE = ("(?P", "(?<", "\\A", "\\Z", "(?#", "(?i")  # Python-only syntax in a pattern


def test_every_pattern_reads_alike_in_python_and_javascript() -> None:
    for pattern, chinese in MESSAGES:
        compiled = re.compile(pattern)
        assert not any(unsafe in pattern for unsafe in JS_UNSAFE), pattern
        wanted = {int(n) for n in re.findall(r"\{(\d)\}", chinese)}
        assert all(1 <= n <= compiled.groups for n in wanted), (pattern, chinese)
        assert re.search(r"[\u4e00-\u9fff]", chinese) or re.fullmatch(r"\{1\}", chinese), chinese


def test_api_messages_read_in_chinese_with_their_values() -> None:
    cases = {
        "07:00, 23:00 are inside quiet hours (22:00-06:00); routine broadcasts may not be "
        "scheduled then": "07:00, 23:00 在静默时段（22:00-06:00）内，不能安排日常广播",
        "revision 2 is approved; it cannot be rejected": "第 2 版现在是「已通过」，不能驳回",
        "ticket is resolved; only an open ticket can be claimed":
            "工单现在是「已修复待确认」，只有待处理的工单可以接单",
        "a reviewer needs an area": "审核员需要指定所属区域",
        "area 'v11' is still used: 2 speaker(s) are registered there":
            "区域「v11」仍在使用：登记了 2 个音柱",
        "a level III–IV broadcast raised in quiet hours starts at 06:00 when they end; "
        "expires_at 2026-01-01T05:00:00+08:00 comes before that, so it would never play: "
        "give a later expires_at or leave it out (one hour from the start)":
            "静默时段内发起的Ⅲ、Ⅳ级广播要到 06:00 静默时段结束才开始播出，"
            "而截止时间早于此时，广播将无法播出：请推迟截止时间，或不填（默认开始后 1 小时）",
    }
    for english, chinese in cases.items():
        assert translate_message(english) == chinese


def test_errors_fall_back_to_their_code_then_their_status_and_keep_fields() -> None:
    fields = {"error": "validation_error", "detail": "…", "fields": [
        {"field": "title", "detail": "String should have at most 200 characters"},
        {"field": "items.0.silence_ms", "detail": "Input should be less than or equal to 600000"},
        {"field": "days", "detail": "Value error, must not be blank"}]}
    assert translate_error(fields, 422) == \
        "标题：最多 200 个字；播单内容：不能大于 600000；星期：不能为空"
    assert translate_error({"error": "schedule_conflict", "detail": "something new"}, 409) == \
        "与其他播出计划的时间冲突"
    assert translate_error({"error": "teapot", "detail": "I'm a teapot"}, 418) == "操作失败"
    assert translate_error({"error": "x", "detail": "?"}, 503) == "服务暂时不可用，请稍后再试"
    assert in_chinese("the terminal is heard healthy again") == "终端恢复正常"
    assert in_chinese("更换功放模块") == "更换功放模块"  # people's own words stay as written
