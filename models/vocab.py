"""The fixed vocabularies of the product (SPEC 1, 3, 4), in one place."""
from __future__ import annotations

MINISTRY, PROVINCE, SCHOOL, COLLEGE, COUNSELOR = "ministry", "province", "school", "college", "counselor"
LEVELS = (MINISTRY, PROVINCE, SCHOOL, COLLEGE, COUNSELOR)
LEVEL_NAMES = {MINISTRY: "部级", PROVINCE: "省级", SCHOOL: "校级", COLLEGE: "院级", COUNSELOR: "辅导员"}
STAFF_LEVELS = (MINISTRY, PROVINCE, SCHOOL, COLLEGE)

# The unit kind each level's account sits on: a counselor sits on its college.
UNIT_KIND_OF_LEVEL = {MINISTRY: MINISTRY, PROVINCE: PROVINCE, SCHOOL: SCHOOL, COLLEGE: COLLEGE, COUNSELOR: COLLEGE}
UNIT_KIND_NAMES = {MINISTRY: "教育部", PROVINCE: "省份", SCHOOL: "学校", COLLEGE: "院系"}

STUDY_LEVELS = ("专科", "本科", "硕士", "博士")

TASK_TYPES = ("就业创业政策", "招聘会", "就业创业直播课", "招聘信息", "就业课程", "其他")
TASK_TYPE_SHORT = {
    "就业创业政策": "政策",
    "招聘会": "招聘会",
    "就业创业直播课": "直播课",
    "招聘信息": "招聘信息",
    "就业课程": "课程",
    "其他": "其他",
}
TASK_TYPE_FROM_ANY = {**{t: t for t in TASK_TYPES}, **{short: full for full, short in TASK_TYPE_SHORT.items()}}
LIVE_TASK_TYPE = "就业创业直播课"

DESTINATIONS = ("协议就业", "合同就业", "灵活就业", "自主创业", "升学", "出国出境", "应征入伍", "基层项目", "待就业", "暂不就业")
NOT_PLACED = ("待就业", "暂不就业")

# Every SMS the platform sends starts with this one signature (the gateway registers one).
SMS_SIGNATURE = "【全国高校毕业班辅导员就业工作平台】"
