"""`flask --app wsgi seed demo`: a small believable data set for trying fdy out.

It goes through the same code as real use: the graduate data is written to a
CSV and imported with models.importer, and every account is created by the
account rules as its superior would (the ministry account from the CLI path).
A fixed random seed makes a rerun produce the same rows: the import updates,
accounts that exist are left alone.
"""
from __future__ import annotations

import csv
import os
import random
import tempfile
from dataclasses import dataclass
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from jobs.dispatch import start_dispatch_fanout
from models import account_rules as rules
from models import db, dispatch
from models.importer import COLUMNS, import_graduates
from models.resolution import active_account_by_phone
from models.clock import LOCAL_FORMAT, clock, to_local
from models.tasks import Task
from models.units import ensure_ministry
from models.vocab import LEVEL_NAMES

from .. import follow_up

seed_cli = AppGroup("seed", help="演示数据。")

PROVINCE = "江苏省"
# school -> college -> [(major, 专业方向, 学历层次, how many 2026 graduates)]
SCHOOLS = {
    "东湖大学": {
        "计算机学院": [("计算机科学与技术", "人工智能", "本科", 30), ("计算机科学与技术", "", "本科", 34),
                       ("软件工程", "", "本科", 36), ("计算机科学与技术", "", "硕士", 18)],
        "经济管理学院": [("会计学", "", "本科", 32), ("金融学", "", "本科", 26), ("市场营销", "", "本科", 20),
                         ("工商管理", "", "硕士", 12)],
        "外国语学院": [("英语", "", "本科", 24), ("日语", "", "本科", 14)],
    },
    "临江职业技术学院": {
        "机电工程学院": [("机电一体化技术", "", "专科", 34), ("工业机器人技术", "", "专科", 22)],
        "信息工程学院": [("计算机应用技术", "", "专科", 28), ("大数据技术", "", "专科", 20)],
    },
}
SCHOOL_CODES = {"东湖大学": "DH", "临江职业技术学院": "LJ"}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文"
GIVEN = ("子涵 欣怡 梓轩 浩然 雨桐 宇航 思远 佳怡 一诺 俊杰 诗琪 明轩 嘉懿 子墨 语嫣 晨阳 若曦 天佑 梦瑶 博文 "
         "静怡 志强 雅琴 建华 晓东 丽娜 海涛 文博 婉清 泽宇 可馨 家豪 紫萱 鹏飞 思琪 昊然 晓雯 宏伟 雪 磊 敏 超 "
         "婷 杰 洋 颖 鑫 悦 辉 倩").split()
INTENTIONS = ["国有企业", "民营企业", "机关事业单位", "升学深造", "自主创业", "灵活就业", "出国留学", "基层项目", "暂无明确意愿"]
CITIES = ["南京", "苏州", "无锡", "常州", "上海", "杭州", "北京", "深圳"]
JOBS = {
    "计算机学院": ["软件开发", "算法工程师", "测试工程师", "运维工程师"],
    "经济管理学院": ["会计", "金融分析", "市场专员", "人力资源"],
    "外国语学院": ["翻译", "外贸业务", "英语教师", "跨境电商运营"],
    "机电工程学院": ["设备维护", "数控操作", "机电技术员"],
    "信息工程学院": ["网络运维", "数据标注", "前端开发", "技术支持"],
}
SALARIES = ["5k以上", "6k以上", "8k以上", "10k以上", "面议"]
# 毕业去向 weights for the graduating cohort (mid-year: many still looking) and last year's.
DEST_2026 = {"协议就业": 22, "合同就业": 12, "灵活就业": 8, "自主创业": 1, "升学": 12, "出国出境": 3, "应征入伍": 1,
             "基层项目": 2, "待就业": 36, "暂不就业": 3}
DEST_2025 = {"协议就业": 35, "合同就业": 20, "灵活就业": 12, "自主创业": 2, "升学": 15, "出国出境": 4, "应征入伍": 2,
             "基层项目": 3, "待就业": 5, "暂不就业": 2}


@dataclass
class DemoAccount:
    phone: str
    name: str
    level: str
    unit: str       # the unit name the account is created on (or the ministry)
    creator: str    # phone of the creating account; '' for the CLI path
    study_level: str | None = None
    majors: tuple[str, ...] = ()
    cohorts: tuple[int, ...] = ()
    school: str = ""  # the school of a college/counselor unit, to find it
    levels: tuple[str, ...] = ()


DEMO_COHORT = 2026

ACCOUNTS = [
    DemoAccount("13800000001", "周敏", "ministry", "教育部", ""),
    DemoAccount("13800000002", "陈华", "province", PROVINCE, "13800000001"),
    DemoAccount("13800000003", "李强", "school", "东湖大学", "13800000002"),
    DemoAccount("13800000004", "王磊", "school", "临江职业技术学院", "13800000002"),
    DemoAccount("13800000005", "张丽", "college", "计算机学院", "13800000003", school="东湖大学"),
    DemoAccount("13800000006", "刘洋", "college", "经济管理学院", "13800000003", school="东湖大学",
                levels=("本科",)),
    DemoAccount("13800000007", "黄涛", "college", "机电工程学院", "13800000004", school="临江职业技术学院"),
    DemoAccount("13800000011", "孙悦", "counselor", "计算机学院", "13800000005", "本科",
                ("计算机科学与技术", "软件工程"), (2026,), "东湖大学"),
    DemoAccount("13800000012", "吴昊", "counselor", "计算机学院", "13800000005", "硕士",
                ("计算机科学与技术",), (2025, 2026), "东湖大学"),
    DemoAccount("13800000013", "郑琳", "counselor", "经济管理学院", "13800000003", "本科",
                ("会计学", "金融学", "市场营销"), (2026,), "东湖大学"),
    DemoAccount("13800000014", "马骏", "counselor", "外国语学院", "13800000003", "本科",
                ("英语", "日语"), (2026,), "东湖大学"),
    DemoAccount("13800000015", "何静", "counselor", "机电工程学院", "13800000007", "专科",
                ("机电一体化技术", "工业机器人技术"), (2026,), "临江职业技术学院"),
    DemoAccount("13800000016", "罗斌", "counselor", "信息工程学院", "13800000004", "专科",
                ("计算机应用技术", "大数据技术"), (2025, 2026), "临江职业技术学院"),
]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_rows(seed: int = 2026):
    """The demo graduates as 9.4 rows (same rows every time)."""
    rng = random.Random(seed)
    for school, colleges in SCHOOLS.items():
        serial = 0
        for college, majors in colleges.items():
            for major, direction, level, count in majors:
                for cohort, n in ((2026, count), (2025, max(count // 3, 4))):
                    for _ in range(n):
                        serial += 1
                        dest = _weighted(rng, DEST_2026 if cohort == 2026 else DEST_2025)
                        intention = ("升学深造" if dest == "升学" else rng.choice(INTENTIONS))
                        expectation = ("" if dest in ("升学", "出国出境") else
                                       f"{rng.choice(CITIES)} · {rng.choice(JOBS[college])} · {rng.choice(SALARIES)}")
                        yield [f"{SCHOOL_CODES[school]}{cohort}{serial:04d}", rng.choice(SURNAMES) + rng.choice(GIVEN),
                               PROVINCE, school, college, major, direction, level, str(cohort), dest, intention,
                               expectation, "是" if rng.random() < 0.62 else "否"]


def write_demo_csv(path: str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in demo_rows():
            writer.writerow(row)
            count += 1
    return count


def seed_demo(session, echo=print) -> dict:
    """Import the demo graduates and create the demo accounts; returns counts."""
    ensure_ministry(session)
    session.commit()
    fd, path = tempfile.mkstemp(prefix="fdy-demo-", suffix=".csv")
    os.close(fd)
    try:
        write_demo_csv(path)
        report = import_graduates(session, path)
    finally:
        os.remove(path)
    echo(f"毕业生数据：新增 {report.created} 条，更新 {report.updated} 条，错误 {len(report.errors)} 行。")
    for line, reason in report.errors:
        echo(f"  第{line}行：{reason}")

    created, existing, failed = 0, 0, 0
    for spec in ACCOUNTS:
        if active_account_by_phone(session, spec.phone) is not None:
            existing += 1
            continue
        actor = active_account_by_phone(session, spec.creator) if spec.creator else None
        if spec.level == "ministry":
            result = rules.add_ministry_account(session, name=spec.name, phone=spec.phone)
        elif actor is None:
            result = rules.refused(f"创建者 {spec.creator} 的账号不存在")
        elif spec.level == "province":
            result = rules.add_province_account(session, actor, name=spec.name, phone=spec.phone,
                                                province=spec.unit, notify="now")
        elif spec.level == "school":
            result = rules.add_school_account(session, actor, name=spec.name, phone=spec.phone, school=spec.unit,
                                              notify="now")
        elif spec.level == "college":
            result = rules.add_college_account(session, actor, name=spec.name, phone=spec.phone, college=spec.unit,
                                               levels=spec.levels, notify="now")
        else:
            result = rules.add_counselor(session, actor, name=spec.name, phone=spec.phone,
                                         study_level=spec.study_level, majors=list(spec.majors),
                                         cohorts=list(spec.cohorts),
                                         college=spec.unit if actor.level == "school" else None, notify="now")
        follow_up.start(result)
        if result.ok:
            created += 1
        else:
            failed += 1
            echo(f"未能创建 {spec.name}：" + "；".join(result.reasons))
    echo(f"账号：新建 {created} 个，已存在 {existing} 个" + (f"，失败 {failed} 个" if failed else "") + "。")
    tasks = seed_demo_tasks(session, echo)
    return {"created": report.created, "updated": report.updated, "import_errors": len(report.errors),
            "accounts_created": created, "accounts_existing": existing, "accounts_failed": failed,
            "tasks_created": tasks}


def _demo_task_forms(now) -> list[tuple[str, str]]:
    """(issuer phone, 派发 form) pairs, with times relative to now (Beijing time)."""
    local = to_local(now)
    fmt = LOCAL_FORMAT
    year = DEMO_COHORT  # the demo graduates' and counselors' cohort
    deadline = (local + timedelta(days=7)).strftime(fmt)
    live_start = (local + timedelta(days=2)).replace(hour=19, minute=0).strftime(fmt)
    live_end = (local + timedelta(days=2)).replace(hour=20, minute=30).strftime(fmt)
    return [
        ("13800000002", f"派发\n标题：{year}届毕业生就业创业政策解读\n类型：政策\n届别：{year}\n截止：{deadline}\n"
                        "链接：https://www.ncss.cn/\n"
                        "给学生：同学们好！本年度就业创业扶持政策要点：\n"
                        "1. 到基层就业、应征入伍可享学费补偿和国家助学贷款代偿；\n"
                        "2. 自主创业可申请创业担保贷款和一次性创业补贴；\n"
                        "3. 离校未就业毕业生可到户籍地或学校所在地公共就业服务机构登记，享受就业帮扶。\n"
                        "详细政策见下方链接，有疑问请联系本院辅导员。\n"
                        "内容：请组织毕业班学生学习本年度就业创业扶持政策，并在班会上解读。"),
        ("13800000003", f"派发\n标题：{year}届秋季校园双选会\n类型：招聘会\n届别：{year}\n截止：{deadline}\n"
                        "链接：https://www.ncss.cn/\n"
                        f"给学生：{year}届秋季校园双选会，200余家用人单位现场招聘。\n"
                        "时间：下周六 9:00-16:00；地点：学校体育馆。\n"
                        "请携带多份纸质简历和学生证，提前在下方链接查看参会单位和岗位。\n"
                        "内容：请通知毕业生准时参加双选会，提前准备简历。"),
        ("13800000003", f"派发\n标题：简历写作与面试技巧直播课\n类型：直播课\n届别：{year}\n"
                        f"开始：{live_start}\n结束：{live_end}\n保密：否\n"
                        "链接：https://www.ncss.cn/\n"
                        "给学生：就业指导老师在线讲解简历怎么写、面试怎么准备，直播中可提问。\n"
                        "直播开始后点下方「进入直播间」观看。\n"
                        "内容：辅导员请先观看直播并签到，再组织学生观看回放。"),
    ]


def seed_demo_tasks(session, echo=print) -> int:
    """A few tasks dispatched through the same path as 派发 + 确认 in chat (skipped when present)."""
    created = 0
    for phone, form in _demo_task_forms(clock()):
        issuer = active_account_by_phone(session, phone)
        if issuer is None:
            continue
        draft, errors = dispatch.parse(session, issuer, form)
        if draft is None:
            echo("演示任务未能创建：" + "；".join(errors))
            continue
        if session.scalar(select(Task.id).where(Task.title == draft.title)) is not None:
            continue
        task, total, unreachable = dispatch.create_task(session, issuer, draft)
        try:
            start_dispatch_fanout(task.id)
        except Exception as exc:  # the demo still works without a queue; the worker resumes it
            echo(f"任务 #{task.id} 的通知未能排队（{type(exc).__name__}），工作进程启动时会补发。")
        echo(dispatch.confirmation_text(task, total, unreachable))
        created += 1
    return created


def demo_directory() -> list[str]:
    """Lines telling a person which phone to bind for which role (demo phones only)."""
    lines = ["演示账号（在模拟器中发送「绑定 手机号」，验证码见模拟器的短信页或 sms_outbox 表）："]
    for spec in ACCOUNTS:
        where = spec.unit if not spec.school or spec.unit == spec.school else f"{spec.school}{spec.unit}"
        extra = ""
        if spec.level == "counselor":
            extra = f"，{spec.study_level}，{'、'.join(spec.majors)}，{'、'.join(map(str, spec.cohorts))}届"
        lines.append(f"  {spec.phone}  {LEVEL_NAMES[spec.level]:<3} {spec.name} {where}{extra}")
    return lines


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="生产环境（FDY_ENV=production）也载入演示数据。")
def demo(force: bool) -> None:
    """载入一套演示数据（一个省、两所学校、院系、辅导员、毕业生和几个任务；重复运行无害）。"""
    if current_app.config.get("ENV_NAME") == "production" and not force:
        # Demo accounts with phones anyone can read in the source must not appear in a live system.
        raise click.ClickException("生产环境（FDY_ENV=production）不加载演示数据；确需加载请加 --force。")
    seed_demo(db.session, echo=click.echo)
    for line in demo_directory():
        click.echo(line)
    click.echo("演示数据已就绪。")


def init_app(app) -> None:
    app.cli.add_command(seed_cli)
