"""What a synthetic data set is made of (bench/generate.py writes it): the presets, the names
and weights drawn from, the synthetic openids and phones, and the unit tree with the ids and
ancestry models.units gives units."""
from __future__ import annotations

import random
from dataclasses import dataclass

PROVINCE_NAMES = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市",
    "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省",
    "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省",
    "青海省", "宁夏回族自治区", "新疆维吾尔自治区", "台湾省", "香港特别行政区", "澳门特别行政区",
)
SCHOOL_KINDS = ("大学", "理工大学", "师范大学", "财经大学", "医科大学", "职业技术学院", "工业大学", "农业大学")
COLLEGE_STEMS = ("计算机", "软件", "数学", "物理", "化学", "经济管理", "外国语", "文", "法", "机械工程",
                 "电气工程", "土木工程", "医", "艺术", "新闻传播", "生命科学", "材料", "环境", "马克思主义", "体育")
MAJOR_SUFFIXES = ("学", "工程", "技术", "管理", "教育", "应用", "科学")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建华文博宇浩然子涵欣怡梓轩一诺思远晨曦嘉怡雨桐"
STUDY_LEVEL_WEIGHTS = (("专科", 20), ("本科", 60), ("硕士", 15), ("博士", 5))
DESTINATION_WEIGHTS = (("协议就业", 25), ("合同就业", 15), ("灵活就业", 12), ("自主创业", 2), ("升学", 15),
                       ("出国出境", 3), ("应征入伍", 1), ("基层项目", 2), ("待就业", 22), ("暂不就业", 3))
INTENTIONS = ("求职", "升学", "考公考编", "创业", "出国", "暂无")
EXPECTATIONS = ("北京 互联网", "上海 金融", "广州 制造业", "本地 教育", "成都 医疗", "杭州 电商", "不限")

MAIN_COHORT = 2026


@dataclass(frozen=True)
class Preset:
    provinces: int
    schools: int
    colleges: int
    majors_per_college: int
    counselors: int
    graduates: int
    bound_share: float = 0.9


PRESETS = {
    "tiny": Preset(1, 2, 4, 3, 20, 200),
    "small": Preset(2, 20, 200, 5, 1_000, 20_000),
    "medium": Preset(10, 300, 3_000, 5, 15_000, 100_000),
    "national": Preset(34, 3_000, 30_000, 5, 150_000, 1_000_000),
}


def openid_for(account_id: int) -> str:
    """The synthetic openid of account `account_id` (28 characters, like WeChat's)."""
    return f"obench{account_id:022d}"


def phone_for(account_id: int) -> str:
    # 11 digits, mainland mobile prefix, unique per account.
    return f"13{account_id:09d}"


def weighted(rng: random.Random, pairs) -> str:
    names = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(names, weights)[0]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))



@dataclass
class Tree:
    ministry_id: int
    provinces: list[dict]
    schools: list[dict]
    colleges: list[dict]
    majors: dict[int, list[dict]]  # college id -> its majors


def build_units(preset: Preset) -> Tree:
    """Unit rows with explicit ids and the ancestry models.units gives them."""
    from models.vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL

    next_id = iter(range(1, 10**9))
    ministry = {"id": next(next_id), "kind": MINISTRY, "name": "教育部", "parent_id": None,
                "province_id": None, "school_id": None, "college_id": None}
    provinces = []
    for p in range(preset.provinces):
        uid = next(next_id)
        name = PROVINCE_NAMES[p] if p < len(PROVINCE_NAMES) else f"第{p + 1}省"
        provinces.append({"id": uid, "kind": PROVINCE, "name": name, "parent_id": ministry["id"],
                          "province_id": uid, "school_id": None, "college_id": None})
    schools = []
    per_province: dict[int, int] = {}
    for s in range(preset.schools):
        prov = provinces[s % len(provinces)]
        k = per_province[prov["id"]] = per_province.get(prov["id"], 0) + 1
        short = prov["name"].replace("省", "").replace("市", "").replace("自治区", "").replace("特别行政区", "")[:4]
        name = f"{short}第{k}{SCHOOL_KINDS[k % len(SCHOOL_KINDS)]}"
        uid = next(next_id)
        schools.append({"id": uid, "kind": SCHOOL, "name": name, "parent_id": prov["id"],
                        "province_id": prov["id"], "school_id": uid, "college_id": None})
    colleges = []
    per_school: dict[int, int] = {}
    for c in range(preset.colleges):
        school = schools[c % len(schools)]
        k = per_school[school["id"]] = per_school.get(school["id"], 0) + 1
        stem = COLLEGE_STEMS[(k - 1) % len(COLLEGE_STEMS)]
        name = f"{stem}学院" if k <= len(COLLEGE_STEMS) else f"{stem}第{k}学院"
        uid = next(next_id)
        colleges.append({"id": uid, "kind": COLLEGE, "name": name, "parent_id": school["id"],
                         "province_id": school["province_id"], "school_id": school["id"], "college_id": uid,
                         "stem": stem})
    majors: dict[int, list[dict]] = {}
    mid = 0
    for college in colleges:
        rows = []
        for k in range(preset.majors_per_college):
            mid += 1
            suffix = MAJOR_SUFFIXES[k % len(MAJOR_SUFFIXES)]
            name = f"{college['stem']}{suffix}" + (f"{k // len(MAJOR_SUFFIXES) + 1}" if k >= len(MAJOR_SUFFIXES) else "")
            # Some majors have a 专业方向, as the employment data does.
            direction = "应用方向" if k == 4 else ""
            rows.append({"id": mid, "college_id": college["id"], "name": name, "direction": direction})
        majors[college["id"]] = rows
    return Tree(ministry["id"], provinces, schools, colleges, majors)

