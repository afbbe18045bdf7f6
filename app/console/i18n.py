"""The console's Chinese: labels of states, events and roles, and the API's messages translated.

The API keeps its codes and English details (clients match on them); the console shows people
Chinese. One table serves the server-rendered pages (:func:`translate_error`) and the browser
(``/console/i18n.js`` carries the same table to ``static/i18n.js``, which applies the same rule):

* a message is matched whole against :data:`MESSAGES` (regular expressions written so that
  Python and JavaScript read them alike: no named groups, no look-behind); ``{1}``, ``{2}``…
  in the Chinese take the captured parts, each translated in turn (a state, a role, a nested
  message) or kept as it is (a code, a time);
* a validation error lists its fields: each field's name and message are translated;
* anything left falls back to a Chinese sentence for the error code, then for the status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = [
    "ANNOUNCEMENT_STATES",
    "PLAYLIST_STATES",
    "BROADCAST_STATES",
    "VILLAGE_STATES",
    "SPEAKER_STATES",
    "TICKET_STATES",
    "TICKET_EVENTS",
    "CAUSES",
    "ROLES",
    "LEVELS",
    "MODES",
    "DAYS",
    "POWER",
    "ORDER_STATES",
    "AREA_LEVELS",
    "SCOPES",
    "FIELDS",
    "MESSAGES",
    "CODES",
    "LABELS",
    "translate_message",
    "translate_error",
    "in_chinese",
    "browser_table",
]

ANNOUNCEMENT_STATES = {"draft": "草稿", "pending_review": "待审核", "approved": "已通过",
                       "rejected": "已驳回"}
PLAYLIST_STATES = {"ready": "可播出", "pending": "音频生成中", "failed": "音频生成失败",
                   "unapproved": "含未审核稿件"}
AUDIO_STATES = {"ready": "可播出", "pending": "生成中", "failed": "失败"}
BROADCAST_STATES = {"active": "进行中", "finished": "已结束", "cancelled": "已取消",
                    "expired": "已过期"}
VILLAGE_STATES = {"pending": "待下发", "delivered": "已送达", "playing": "播放中",
                  "played": "已播放", "failed": "失败", "unreachable": "无法送达"}
SPEAKER_STATES = {"online": "在线", "offline": "离线", "fault": "故障", "maintenance": "维护中"}
TICKET_STATES = {"open": "待处理", "claimed": "处理中", "resolved": "已修复待确认",
                 "closed": "已关闭"}
TICKET_EVENTS = {"opened": "开单", "assigned": "派单", "claimed": "接单", "commented": "备注",
                 "resolved": "修复", "closed": "关闭", "reopened": "重新打开", "overdue": "超期",
                 "recovered": "终端恢复正常", "escalated": "升为紧急"}
CAUSES = {"power_cut": "断电（含人为断电）", "hardware": "硬件故障", "amplifier": "功放故障",
          "network": "网络故障", "vandalism": "人为破坏", "offline": "离线", "other": "其他",
          "power_cut_by_resident": "人为断电（居民拔电）"}
ROLES = {"admin": "管理员", "staff": "工作人员", "reviewer": "审核员", "crew": "维修人员"}
LEVELS = {1: "Ⅰ级（特别重大）", 2: "Ⅱ级（重大）", 3: "Ⅲ级（较大）", 4: "Ⅳ级（一般）"}
MODES = {"actual": "正式", "exercise": "演练", "test": "测试（不外放）"}
DAYS = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五",
        "sat": "周六", "sun": "周日"}
POWER = {"mains": "市电", "battery": "电池", "off": "断电"}
ORDER_STATES = {"planned": "计划中", "issued": "已下发", "played": "已播放", "missed": "未播出",
                "withdrawn": "已撤销", "cancelled": "已取消", "expired": "已过期",
                "failed": "播放失败", "preempted": "被插播中断"}
AREA_LEVELS = {"district": "区县", "town": "镇街", "village": "村"}
SCOPES = {"areas:read": "读取区域", "broadcasts:write": "发起紧急广播",
          "broadcasts:read": "查看紧急广播", "reports:read": "查看报表"}
PRIORITIES = {"high": "紧急", "normal": "普通"}

# Field names as the forms call them.
FIELDS = {
    "title": "标题", "body": "广播稿", "area": "所属区域", "category": "类别", "name": "名称",
    "items": "播单内容", "gap_ms": "条目间隔", "chime": "提示音", "times": "播出时间",
    "days": "星期", "targets": "播放区域", "loop": "循环次数", "volume": "音量",
    "every_minutes": "间隔分钟数", "window": "时间段", "start_date": "开始日期",
    "end_date": "结束日期", "playlist": "播单", "enabled": "启用", "username": "用户名",
    "password": "密码", "role": "角色", "disabled": "停用", "serial": "编号", "village": "所在村",
    "lat": "纬度", "lon": "经度", "location": "安装位置", "maintenance": "维护",
    "scopes": "权限范围", "towns": "负责镇街", "members": "成员", "reason": "理由",
    "resolution": "处理情况", "cause": "故障原因", "text": "内容", "level": "级别",
    "expires_at": "截止时间", "mode": "方式", "file": "文件", "announcement": "稿件",
    "media": "音频", "silence_ms": "静音时长", "note": "说明", "speaker": "音柱",
    "code": "编码", "parent": "上级区域", "url": "网址", "events": "事件", "secret": "密钥",
}

# Words an English message carries as values (states, roles, levels, actions).
VALUES: dict[str, str] = {
    **ANNOUNCEMENT_STATES, **TICKET_STATES, **ROLES, **AREA_LEVELS,
    "window start": "时间段开始", "window end": "时间段结束",
    "times": "播出时间", "start_date": "开始日期", "end_date": "结束日期",
    "synthesising the text": "语音合成", "the text": "文字",
}

# (English message, matched whole; Chinese, with {n} for the n-th captured part).
MESSAGES: list[tuple[str, str]] = [
    # pydantic's own messages (a field's message; the field name is added in front)
    (r"Field required", "必填"),
    (r"String should have at least 1 character", "不能为空"),
    (r"String should have at least (\d+) characters", "至少 {1} 个字"),
    (r"String should have at most (\d+) characters?", "最多 {1} 个字"),
    (r"String should match pattern .*", "格式不正确"),
    (r"Input should be a valid integer.*", "应为整数"),
    (r"Input should be a finite number", "应为数字"),
    (r"Input should be a valid number.*", "应为数字"),
    (r"Input should be a valid boolean.*", "应为是或否"),
    (r"Input should be a valid string", "应为文字"),
    (r"Input should be a valid list", "应为列表"),
    (r"Input should be a valid dictionary.*", "格式不正确"),
    (r"Input should be a valid date.*", "应为日期（年-月-日）"),
    (r"Input should be a valid datetime.*", "应为日期和时间"),
    (r"Input should have timezone info", "需要带时区"),
    (r"Input should be a valid URL.*", "应为有效网址"),
    (r"Input should be greater than or equal to (\S+)", "不能小于 {1}"),
    (r"Input should be less than or equal to (\S+)", "不能大于 {1}"),
    (r"Input should be greater than (\S+)", "应大于 {1}"),
    (r"Input should be less than (\S+)", "应小于 {1}"),
    (r"Input should be .+", "不是可选的值"),
    (r"List should have at least (\d+) items? after validation.*", "至少选择 {1} 项"),
    (r"List should have at most (\d+) items? after validation.*", "最多 {1} 项"),
    (r"Extra inputs are not permitted", "不认识的字段"),
    (r"JSON decode error", "请求格式不正确"),
    (r"Invalid JSON.*", "请求格式不正确"),
    (r"Value error, (.+)", "{1}"),
    (r"must not be blank", "不能为空"),
    (r"area codes must not be blank", "区域编码不能为空"),
    (r"each entry must be 1–64 characters", "每一项应为 1–64 个字符"),
    (r"is limited to ([\d,]+) characters \(got ([\d,]+)\).*",
     "最多 {1} 字（现有 {2} 字）：紧急广播的文字要当场合成语音，"
     "较长的内容请先写成稿件、审核通过后播出"),
    (r"give exactly one of text, announcement or media.*",
     "请填写广播内容，或选择一份已审核的稿件（二者选一）"),
    # logins and users
    (r"wrong username or password", "用户名或密码错误"),
    (r"this user is disabled", "该用户已停用"),
    (r"too many failed logins; try again in (\d+) s", "登录失败次数过多，请 {1} 秒后再试"),
    (r"missing bearer token", "请先登录"),
    (r"invalid, expired or revoked token", "登录已失效，请重新登录"),
    (r"invalid, revoked or retired token", "终端令牌无效、已更换或音柱已退役"),
    (r"this needs the '([^']+)' or '([^']+)' permission",
     "您的角色无权进行此操作（需要 {1} 或 {2} 权限）"),
    (r"this needs the '([^']+)' permission", "您的角色无权进行此操作（需要 {1} 权限）"),
    (r"a (\w+) needs an area", "{1}需要指定所属区域"),
    (r"user '(.+?)' does not exist", "用户「{1}」不存在"),
    (r"user '(.+?)' already exists", "用户名「{1}」已被使用"),
    (r"you cannot disable yourself", "不能停用自己的账号"),
    (r"API key '(.+?)' does not exist", "接口密钥不存在"),
    # areas
    (r"area '(.+?)' does not exist", "区域「{1}」不存在"),
    (r"area '(.+?)' is outside your area", "区域「{1}」不在您的管辖范围内"),
    (r"area '(.+?)' already exists", "区域编码「{1}」已存在"),
    (r"area '(.+?)' still has child areas", "区域「{1}」下还有下级区域"),
    (r"area '(.+?)' is still used: (.+)", "区域「{1}」仍在使用：{2}"),
    (r"area '(.+?)' is still referenced by other records", "区域「{1}」仍被其他记录引用"),
    (r"a district has no parent", "区县没有上级区域"),
    (r"a (\w+) needs a parent (\w+)", "{1}需要上级{2}"),
    (r"parent '(.+?)' does not exist", "上级区域「{1}」不存在"),
    (r"a (\w+)'s parent must be a (\w+), '(.+?)' is a (\w+)", "{1}的上级应为{2}，「{3}」是{4}"),
    (r"only a user without an area may create a district", "只有不限区域的用户才能新建区县"),
    (r"the new area would be outside your area", "新区域将超出您的管辖范围"),
    (r"(\d+) speaker\(s\) are registered there", "登记了 {1} 个音柱"),
    (r"(\d+) playlist\(s\) belong to it", "有 {1} 个播单"),
    (r"(\d+) announcement\(s\) belong to it", "有 {1} 份稿件"),
    (r"targeted by schedule\(s\) (.+)", "播出计划 {1} 在此播放"),
    (r"used by schedule\(s\) (.+)", "被播出计划 {1} 使用"),
    (r"'(.+?)' is outside your area", "「{1}」不在您的管辖范围内"),
    (r"'(.+?)' is a (\w+), not a village", "「{1}」是{2}，不是村"),
    (r"'(.+?)' is a (\w+); a speaker belongs to a village", "「{1}」是{2}，音柱只能登记在村"),
    # announcements and recordings
    (r"announcement '(.+?)' does not exist", "稿件不存在"),
    (r"announcement '(.+?)' belongs to an area outside yours", "该稿件不在您的管辖范围内"),
    (r"announcement '(.+?)' has no revision (\d+)", "稿件没有第 {2} 版"),
    (r"announcement '(.+?)' has no approved revision", "该稿件还没有审核通过的版本"),
    (r"the audio of announcement '(.+?)' \(revision (\d+)\) is not ready yet",
     "该稿件第 {2} 版的音频还在生成中，请稍候再试"),
    (r"the announcement has no recording", "该稿件没有录音"),
    (r"revision (\d+) is (\w+); it cannot be submitted", "第 {1} 版现在是「{2}」，不能提交审核"),
    (r"revision (\d+) is (\w+); it cannot be approved", "第 {1} 版现在是「{2}」，不能审核通过"),
    (r"revision (\d+) is (\w+); it cannot be rejected", "第 {1} 版现在是「{2}」，不能驳回"),
    (r"you wrote this revision; another reviewer must approve it",
     "这一版是您写的，需要由另一位审核员审核"),
    (r"the file is not audio in a supported format", "文件不是支持的音频格式"),
    (r"the file is a video, not an audio recording", "这是视频文件，请上传录音"),
    (r"the file has no audio", "文件里没有声音"),
    (r"audio codec '(.+?)' is not supported", "不支持此音频编码（{1}）"),
    (r"the file is larger than the limit of (\d+) MB", "文件超过 {1} MB 的上限"),
    (r"send the file as multipart/form-data", "请用表单上传文件"),
    (r"malformed multipart body.*", "上传的数据不完整，请重试"),
    (r"the multipart field '(.+?)' \(the file\) is missing", "请选择要上传的文件"),
    (r"required", "必填"),
    (r"no stored media has this hash", "找不到该音频"),
    # playlists
    (r"playlist '(.+?)' does not exist", "播单不存在"),
    (r"playlist '(.+?)' belongs to an area outside yours", "该播单不在您的管辖范围内"),
    (r"items\[(\d+)\]: announcement '(.+?)' does not exist", "播单中的一份稿件不存在"),
    (r"items\[(\d+)\]: no stored media has hash (.+)", "播单中的一段音频不存在"),
    (r"unknown announcement", "稿件不存在"),
    (r"unknown media", "音频不存在"),
    (r"playlist '(.+?)' is still used: (.+)", "播单仍在使用：{2}，请先修改或删除这些计划"),
    (r"nothing in this playlist can play yet.*",
     "播单中还没有可以播放的内容（需要审核通过并已生成音频的稿件）"),
    (r"playlist '(.+?)' holds content that was never approved: (.+)",
     "播单中有未经审核的稿件，审核通过后才能排播"),
    # schedules
    (r"schedule '(.+?)' does not exist", "播出计划不存在"),
    (r"schedule '(.+?)' plays outside your area", "该播出计划不在您的管辖范围内"),
    (r"schedule '(.+?)' targets '(.+?)', outside your area",
     "该播出计划的播放区域超出您的管辖范围"),
    (r"targets: an area is listed twice", "播放区域重复"),
    (r"targets: unknown area\(s\) (.+)", "播放区域不存在：{1}"),
    (r"targets outside your area: (.+)", "播放区域超出您的管辖范围：{1}"),
    (r"(.+) (?:is|are) inside quiet hours \((.+)\); routine broadcasts may not be scheduled then",
     "{1} 在静默时段（{2}）内，不能安排日常广播"),
    (r"every_minutes (\d+) is shorter than one slot \(loop × playlist = (.+) min\).*",
     "每 {1} 分钟播一次，短于一次播出的时长（{2} 分钟），前后会互相重叠"),
    (r"a schedule named '(.+?)' already exists", "已有名为「{1}」的播出计划"),
    (r"(\d+) slot\(s\) overlap schedule\(s\) (.+) in a shared village \(first: (.+) at (.+)\)",
     "有 {1} 次播出与播出计划 {2} 在同一个村的播出时间重叠"),
    (r"[`'](?:to)[`'] must be after [`'](?:from)[`']", "结束时间应晚于开始时间"),
    (r"(?:a calendar|the range) spans at most (\d+) days", "时间范围最多 {1} 天"),
    (r"(.+): expected a time of day as HH:MM, got '(.*)'", "{1}：「{2}」不是“时:分”格式的时间"),
    (r"(.+): '(.*)' is not a time of day \(00:00 to 23:59\)",
     "{1}：「{2}」不是有效的时间（00:00–23:59）"),
    (r"give either times or every_minutes with a window, not both",
     "固定时间和“每隔几分钟”只能选一种"),
    (r"times must list at least one time of day.*", "请至少填写一个播出时间"),
    (r"times: duplicate time\(s\) (.+)", "播出时间重复：{1}"),
    (r"window is only allowed together with every_minutes", "时间段只用于“每隔几分钟”播出"),
    (r"every_minutes must be a whole number from 1 to 1440.*", "间隔分钟数应为 1 到 1440 的整数"),
    (r"every_minutes needs a window.*", "“每隔几分钟”播出需要填写起止时间段"),
    (r"window end (\S+) must be after its start (\S+).*",
     "时间段结束 {1} 应晚于开始 {2}（不能跨过午夜）"),
    (r"days must .*", "请至少选择一天"),
    (r"days: unknown day name\(s\).*", "星期填写有误"),
    (r"days: a day is listed twice", "星期重复"),
    (r"(\w+) must be a date \(YYYY-MM-DD\), got (.+)", "{1}应为日期（年-月-日）"),
    (r"end_date (\S+) is before start_date (\S+)", "结束日期 {1} 早于开始日期 {2}"),
    # speakers and terminals
    (r"speaker '(.+?)' does not exist", "音柱不存在"),
    (r"speaker '(.+?)' is outside your area", "该音柱不在您的管辖范围内"),
    (r"speaker '(.+?)' is in a town your crew does not serve", "该音柱所在镇街不归您的维修队负责"),
    (r"village '(.+?)' does not exist", "村「{1}」不存在"),
    (r"village '(.+?)' is outside your area", "村「{1}」不在您的管辖范围内"),
    (r"unknown area", "区域不存在"),
    (r"a speaker with serial '(.+?)' is already registered", "编号为「{1}」的音柱已经登记"),
    # broadcasts
    (r"unknown area code\(s\): (.+)", "区域编码不存在：{1}"),
    (r"outside your area: (.+)", "超出您的管辖范围：{1}"),
    (r"the targets hold no village", "所选区域下没有村"),
    (r"broadcast '(.+?)' does not exist", "紧急广播不存在"),
    (r"broadcast '(.+?)' targets areas outside yours", "该紧急广播的区域超出您的管辖范围"),
    (r"(.+) took longer than (\d+) s; retry with the same Idempotency-Key",
     "{1}超时（{2} 秒），请再点一次确认"),
    (r"(synthesising the text) failed: (.+)", "{1}失败：{2}"),
    (r"no stored media with sha256 (.+)", "找不到该音频"),
    (r"expires_at (.+) has already passed", "截止时间已经过了"),
    (r"expires_at may be at most 7 days ahead", "截止时间最多为 7 天后"),
    (r"a level III–IV broadcast raised in quiet hours starts at (\d\d:\d\d) when they end; "
     r"expires_at .+", "静默时段内发起的Ⅲ、Ⅳ级广播要到 {1} 静默时段结束才开始播出，"
     "而截止时间早于此时，广播将无法播出：请推迟截止时间，或不填（默认开始后 1 小时）"),
    (r"this Idempotency-Key was already used with a different request body",
     "这份广播已经提交过，内容却不同：请刷新页面后重新发起"),
    (r"the alert expired at (.+); nothing was broadcast", "预警已过期，未播出"),
    # tickets and crews
    (r"ticket '(.+?)' does not exist", "工单不存在"),
    (r"ticket '(.+?)' belongs to another crew or area", "该工单属于其他维修队或区域"),
    (r"ticket is (\w+); only an open ticket can be claimed",
     "工单现在是「{1}」，只有待处理的工单可以接单"),
    (r"ticket is (\w+); only an open or claimed ticket can be resolved",
     "工单现在是「{1}」，只有待处理或处理中的工单可以填写维修结果"),
    (r"ticket is (\w+) already", "工单已经是「{1}」"),
    (r"the speaker has ticket '(.+?)' in progress; add to that one",
     "该音柱已有处理中的工单，请在那张工单上继续"),
    (r"every entry of towns must be a town's code", "负责镇街只能选镇街"),
    (r"town\(s\) (.+) are outside your area", "镇街 {1} 不在您的管辖范围内"),
    (r"every member must be an existing username", "成员必须是已有的用户"),
    (r"no user '(.+?)'", "用户「{1}」不存在"),
    (r"town '(.+?)' is already served by crew '(.+?)'", "镇街「{1}」已由另一个维修队负责"),
    (r"a crew named '(.+?)' exists", "已有名为「{1}」的维修队"),
    (r"crew '(.+?)' does not exist", "维修队不存在"),
    (r"crew '(.+?)' serves no town in your area", "该维修队不负责您管辖范围内的镇街"),
    (r"webhook '(.+?)' does not exist", "回调地址不存在"),
    (r"the terminal is heard healthy again", "终端恢复正常"),
    (r"speaker retired", "音柱已退役"),
    (r"still down (\d+) minutes after it was resolved", "填写修复 {1} 分钟后仍未恢复，退回维修队"),
    # anything
    (r"the change conflicts with existing data", "与现有数据冲突，请刷新后再试"),
    (r"an unexpected error occurred; it was logged", "服务器出错（已记录），请稍后再试"),
    (r"the database is busy or unreachable; retry", "数据库繁忙，请稍后再试"),
    (r"Not Found", "找不到页面"),
    (r"Method Not Allowed", "不支持此操作"),
]

# A sentence per error code (when the message itself is not in the table).
CODES = {
    "unauthorized": "请重新登录", "login_required": "请先登录", "forbidden": "无权进行此操作",
    "not_found": "找不到要找的内容", "conflict": "与现有数据冲突，请刷新后再试",
    "invalid": "填写的内容有误", "validation_error": "填写的内容有误",
    "too_many_requests": "操作太频繁，请稍后再试", "payload_too_large": "文件太大",
    "unsupported_media_type": "不支持的文件格式", "bad_request": "请求有误",
    "internal_error": "服务器出错（已记录），请稍后再试",
    "unavailable": "服务暂时不可用，请稍后再试",
    "quiet_hours": "播出时间在静默时段内", "schedule_conflict": "与其他播出计划的时间冲突",
    "unapproved_content": "播单中有未经审核的稿件", "not_approved": "稿件还没有审核通过",
    "audio_not_ready": "音频还在生成中", "render_timeout": "语音合成超时，请再试一次",
    "expires_before_start": "截止时间早于开始播出的时间", "already_expired": "已过期",
    "unknown_area": "区域不存在", "no_villages": "所选区域下没有村",
    "idempotency_conflict": "这份广播已经提交过", "duplicate_name": "名称已被使用",
    "invalid_rule": "播出时间的设置有误", "slots_overlap": "播出会互相重叠",
    "unknown_target": "播放区域不存在", "unknown_playlist": "播单不存在",
    "invalid_range": "时间范围有误", "text_too_long": "文字太长",
}
STATUSES = {400: "请求有误", 401: "请重新登录", 403: "无权进行此操作", 404: "找不到要找的内容",
            409: "操作冲突，请刷新后再试", 413: "文件太大", 415: "不支持的文件格式",
            422: "填写的内容有误", 429: "操作太频繁，请稍后再试", 500: "服务器出错，请稍后再试",
            503: "服务暂时不可用，请稍后再试"}


@lru_cache(maxsize=1)
def _compiled() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern, re.S), chinese) for pattern, chinese in MESSAGES]


def _part(value: str, depth: int) -> str:
    if value in VALUES:
        return VALUES[value]
    return translate_message(value, depth + 1) or value


def translate_message(text: str, depth: int = 0) -> str | None:
    """The Chinese of one English message, or None when the table does not know it."""
    if depth > 3:
        return None
    for pattern, chinese in _compiled():
        found = pattern.fullmatch(text)
        if found:
            return _fill(chinese, found, depth)
    return None


def _fill(chinese: str, found: re.Match[str], depth: int) -> str:
    return re.sub(r"\{(\d)\}", lambda m: _part(found.group(int(m.group(1))) or "", depth),
                  chinese)


def in_chinese(text: str | None) -> str:
    """A system message in Chinese; people's own words (and unknown text) as they are."""
    if not text:
        return ""
    return translate_message(text) or text


def _field_label(field: str) -> str:
    return FIELDS.get(str(field).split(".")[0], "")


def translate_error(body: Mapping[str, Any] | None, status: int = 400) -> str:
    """What the console shows for an API error body (``{"error", "detail", "fields"?}``)."""
    body = body or {}
    fields = body.get("fields") or []
    if fields:
        parts = []
        for field in fields[:5]:
            detail = str(field.get("detail", ""))
            label = _field_label(field.get("field", ""))
            said = translate_message(detail) or CODES.get(str(body.get("error")), "有误")
            parts.append(f"{label}：{said}" if label else said)
        return "；".join(dict.fromkeys(parts))
    message = translate_message(str(body.get("detail", "")))
    if message:
        return message
    return CODES.get(str(body.get("error", ""))) or STATUSES.get(status, "操作失败")


def browser_table() -> str:
    """The table as the browser's translator reads it (``window.CX_I18N``)."""
    return json.dumps({"messages": MESSAGES, "values": VALUES, "fields": FIELDS,
                       "codes": CODES, "statuses": STATUSES}, ensure_ascii=False)


class _Labels:
    """The label tables, as templates reach them: ``L.speaker_states[s.status]``."""

    announcement_states = ANNOUNCEMENT_STATES
    playlist_states = PLAYLIST_STATES
    audio_states = AUDIO_STATES
    broadcast_states = BROADCAST_STATES
    village_states = VILLAGE_STATES
    speaker_states = SPEAKER_STATES
    ticket_states = TICKET_STATES
    ticket_events = TICKET_EVENTS
    causes = CAUSES
    roles = ROLES
    levels = LEVELS
    modes = MODES
    days = DAYS
    power = POWER
    order_states = ORDER_STATES
    area_levels = AREA_LEVELS
    scopes = SCOPES
    priorities = PRIORITIES


LABELS = _Labels()
