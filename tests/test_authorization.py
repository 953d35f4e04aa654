"""Authorization as properties (SPEC 1, 3, 5, 10; issue 8), with hypothesis.

Random unit trees with accounts at every level and tasks dispatched by random staff. The
expected scope is computed here from the tree alone (not with models/scope.py), then every
answer of the real server is held against it:
- `进度 N` / `未完成 N` / `任务` / `触达` show a task only to whom may see it, with figures and
  names of the counselors the sender manages only;
- `导出 N` files hold exactly the recipients of the sender's figures;
- `删除账号`, `修改届别` and `修改` change an account only when the sender manages it;
- counselors get no staff command; a counselor's `完成 N` works only on tasks it received;
- page URLs (/progress/N, /tasks/N, /share/...) cannot be guessed into other users' data.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pytest
import redis as redis_lib
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from openpyxl import load_workbook
from sqlalchemy import select

from bot import timed_cache
from models import Account
from models.dispatch import Draft, create_task
from models.tasks import TaskRecipient
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, STUDY_LEVELS
from tests.conftest import REDIS_URL, _wipe
from tests.factories import Factory
from tests.reliability import record_figures
from tests.wechat_client import new_openid

CHECKS = {"examples": 0, "commands": 0, "pages": 0, "violations": 0}
MANAGED = {MINISTRY: {PROVINCE}, PROVINCE: {SCHOOL}, SCHOOL: {COLLEGE, COUNSELOR}, COLLEGE: {COUNSELOR}, COUNSELOR: set()}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record_figures("authorization", examples=CHECKS["examples"], commands_checked=CHECKS["commands"],
                   pages_checked=CHECKS["pages"], violations=CHECKS["violations"])


@dataclass
class Person:
    key: str
    level: str
    name: str
    phone: str
    openid: str
    province: int | None
    school: int | None
    college: int | None
    unit: int | None
    study_level: str | None = None   # counselors
    levels: tuple = ()               # a college account's limit ((): all)
    account_id: int = 0


@dataclass
class World:
    people: list[Person] = field(default_factory=list)
    tasks: dict[int, tuple[Person, set[str]]] = field(default_factory=dict)  # id -> (issuer, recipient keys)

    @property
    def staff(self):
        return [p for p in self.people if p.level != COUNSELOR]

    @property
    def counselors(self):
        return [p for p in self.people if p.level == COUNSELOR]


def inside(actor: Person, other: Person) -> bool:
    """`other` sits in the unit `actor` manages (tree ids only)."""
    if actor.level == MINISTRY:
        return True
    if actor.level == PROVINCE:
        return other.province == actor.unit
    if actor.level == SCHOOL:
        return other.school == actor.unit
    if actor.level == COLLEGE:
        if other.college != actor.unit:
            return False
        return not (actor.levels and other.level == COUNSELOR and other.study_level not in actor.levels)
    return False


def manages(actor: Person, target: Person) -> bool:
    return target.level in MANAGED[actor.level] and inside(actor, target)


def sees_task(actor: Person, world: World, task_id: int) -> bool:
    issuer, recipients = world.tasks[task_id]
    if actor.level == COUNSELOR:
        return actor.key in recipients
    return issuer.key == actor.key or any(inside(actor, p) for p in world.counselors if p.key in recipients)


def figure_keys(actor: Person, world: World, task_id: int) -> set[str]:
    issuer, recipients = world.tasks[task_id]
    if issuer.key == actor.key:
        return set(recipients)
    return {p.key for p in world.counselors if p.key in recipients and inside(actor, p)}


# -- building a random world -------------------------------------------------------------------------
tree_shape = st.lists(st.lists(st.integers(min_value=1, max_value=2), min_size=1, max_size=2),
                      min_size=1, max_size=2)   # provinces -> schools -> colleges count


@st.composite
def worlds(draw):
    shape = draw(tree_shape)
    counselor_levels = draw(st.lists(st.sampled_from(STUDY_LEVELS[:3]), min_size=8, max_size=8))
    college_limits = draw(st.lists(st.sampled_from([(), ("本科",), ("硕士", "专科")]), min_size=8, max_size=8))
    issuers = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=3))
    return shape, counselor_levels, college_limits, issuers


def build(session, simulator, spec) -> World:
    shape, counselor_levels, college_limits, issuers = spec
    factory = Factory(session)
    world = World()
    seq = [0]

    def person(level, unit, account, **extra):
        seq[0] += 1
        p = Person(key=f"{level}{seq[0]}", level=level, name=account.name, phone=account.phone,
                   openid=account.identity.openid, province=account.province_id, school=account.school_id,
                   college=account.college_id, unit=unit.id if unit is not None else None,
                   account_id=account.id, **extra)
        world.people.append(p)
        simulator.add_user(p.openid)
        return p

    def staff(level, unit, **kwargs):
        seq[0] += 1
        return factory.staff(level, unit, name=f"管理{seq[0]}号", openid=new_openid(), **kwargs)

    ministry_unit = factory.ministry()
    person(MINISTRY, None, staff(MINISTRY, ministry_unit))
    c_index = 0
    for p_i, schools in enumerate(shape):
        province = factory.province(name=f"省{p_i}")
        person(PROVINCE, province, staff(PROVINCE, province))
        for s_i, colleges in enumerate(schools):
            school = factory.school(province, name=f"省{p_i}校{s_i}")
            person(SCHOOL, school, staff(SCHOOL, school))
            for k in range(colleges):
                college = factory.college(school, name=f"省{p_i}校{s_i}院{k}")
                major = factory.major(college, name="软件工程")
                limit = college_limits[c_index % len(college_limits)]
                person(COLLEGE, college, staff(COLLEGE, college, levels=",".join(limit) or None), levels=limit)
                for j in range(2):
                    level = counselor_levels[(c_index * 2 + j) % len(counselor_levels)]
                    seq[0] += 1
                    account = factory.counselor(college, name=f"辅导员{seq[0]}号", majors=[major], study_level=level,
                                                cohorts=[2026], openid=new_openid())
                    person(COUNSELOR, college, account, study_level=level)
                c_index += 1
    session.flush()
    accounts = {p.account_id: session.get(Account, p.account_id) for p in world.staff}
    for pick in issuers:
        issuer = world.staff[pick % len(world.staff)]
        actor = accounts[issuer.account_id]
        task, total, _ = create_task(session, actor, Draft(title=f"任务由{issuer.name}", type="其他", cohort=2026,
                                                           levels=list(actor.study_levels), content="内容"))
        expected = {p.key for p in world.counselors if inside(issuer, p)
                    and p.study_level in actor.study_levels}
        got = set(session.scalars(select(TaskRecipient.account_id).where(TaskRecipient.task_id == task.id)))
        assert got == {p.account_id for p in world.counselors if p.key in expected}, "recipients outside scope"
        world.tasks[task.id] = (issuer, expected)
    session.commit()
    return world


def fresh(app, db, simulator):
    db.rollback()
    db.expunge_all()
    _wipe(app)
    redis_lib.Redis.from_url(REDIS_URL).flushdb()
    simulator.reset()
    # Each example starts its ids from 1 again: figures a page counted for the last one must go.
    timed_cache.clear_all()


def verdict(ok: bool, *context):
    if not ok:
        CHECKS["violations"] += 1
    assert ok, context


NOT_FOUND = "没有找到"
EXPORT_LINK = re.compile(r"https?://\S+/export\.xlsx\?t=\S+")


def exported_names(reply: str) -> list[str]:
    link = EXPORT_LINK.search(reply)
    assert link, reply
    resp = requests.get(link.group(0), timeout=30)
    assert resp.status_code == 200, resp.text[:200]
    rows = list(load_workbook(io.BytesIO(resp.content), read_only=True)["接收人"].iter_rows(values_only=True))
    return [r[1] for r in rows[1:]]
STAFF_ONLY = "仅限各级工作人员"


# -- chat: tasks and figures -----------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds(), picks=st.lists(st.integers(min_value=0, max_value=1000), min_size=6, max_size=6))
def test_task_commands_stay_inside_scope(app, db, simulator, wechat, spec, picks):
    fresh(app, db, simulator)
    world = build(db, simulator, spec)
    CHECKS["examples"] += 1
    task_ids = list(world.tasks)
    staff = world.staff
    names = {p.key: p.name for p in world.counselors}
    for n, pick in enumerate(picks):
        actor = staff[pick % len(staff)]
        task_id = task_ids[(pick // 7 + n) % len(task_ids)]
        progress = wechat.ask(actor.openid, f"进度 {task_id}")
        pending = wechat.ask(actor.openid, f"未完成 {task_id}")
        CHECKS["commands"] += 2
        if not sees_task(actor, world, task_id):
            verdict(NOT_FOUND in progress and NOT_FOUND in pending, actor.key, task_id, progress, pending)
            if n % 2 == 0:
                export = wechat.ask(actor.openid, f"导出 {task_id}")
                verdict(NOT_FOUND in export and "export" not in export, "导出 refused", actor.key, export)
            continue
        keys = figure_keys(actor, world, task_id)
        verdict(f"已完成 0/{len(keys)}" in progress, actor.key, task_id, len(keys), progress)
        listed = {k for k, name in names.items() if re.search(re.escape(name) + r"(?!\d)", pending)}
        verdict(listed <= keys, "names outside scope", actor.key, listed - keys, pending)
        if len(keys) <= 20:
            verdict(listed == keys, "pending list incomplete", actor.key, keys - listed, pending)
        if n % 2 == 0:
            # 导出 N: the file holds exactly the counselors the figures count.
            exported = exported_names(wechat.ask(actor.openid, f"导出 {task_id}"))
            by_name = {name: k for k, name in names.items()}
            verdict({by_name.get(x) for x in exported} == keys and len(exported) == len(keys), "导出",
                    actor.key, task_id, keys, exported)
            CHECKS["commands"] += 1
    # 任务 lists only visible tasks; 触达 counts only managed counselors.
    for actor in staff[:4]:
        listing = wechat.ask(actor.openid, "任务")
        shown = {int(x) for x in re.findall(r"#(\d+)", listing)}
        visible = {t for t in task_ids if sees_task(actor, world, t)}
        verdict(shown == visible, "任务 list", actor.key, shown, visible)
        reach = wechat.ask(actor.openid, "触达")
        managed = [p for p in world.counselors if inside(actor, p)]
        verdict(f"您管理的辅导员 {len(managed)} 人" in reach, "触达", actor.key, len(managed), reach)
        CHECKS["commands"] += 2


# -- chat: account changes --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds(), pairs=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=6, max_size=6))
def test_account_commands_only_change_managed_accounts(app, db, simulator, wechat, spec, pairs):
    fresh(app, db, simulator)
    world = build(db, simulator, spec)
    CHECKS["examples"] += 1
    for n, (a, t) in enumerate(pairs):
        actor = world.staff[a % len(world.staff)]
        target = world.people[t % len(world.people)]
        if target is actor:
            continue
        allowed = manages(actor, target)
        if n % 3 == 2:
            # 修改 by name: a name is found only among the accounts the sender manages.
            reply = wechat.ask(actor.openid, f"修改 {target.name} 姓名 改名者")
            db.commit()
            db.expire_all()
            account = db.get(Account, target.account_id)
            verdict((account.name == "改名者") == allowed, "修改", actor.key, target.key, allowed, reply)
            verdict(("已修改" in reply) == allowed, "修改 reply", actor.key, target.key, reply)
            if allowed:
                account.name = target.name
                db.commit()
        elif n % 2 == 0 and target.level == COUNSELOR:
            reply = wechat.ask(actor.openid, f"修改届别 {target.phone} 2027")
            db.commit()
            cohorts = db.get(Account, target.account_id).cohorts
            verdict((cohorts == [2027]) == allowed, "修改届别", actor.key, target.key, allowed, cohorts, reply)
            if allowed:
                db.get(Account, target.account_id).set_cohorts([2026])
                db.commit()
        else:
            reply = wechat.ask(actor.openid, f"删除账号 {target.phone}")
            db.commit()
            db.expire_all()
            active = db.get(Account, target.account_id).active
            verdict(active != allowed, "删除账号", actor.key, target.key, allowed, reply)
            if allowed:
                account = db.get(Account, target.account_id)
                account.active, account.active_phone, account.deleted_at = True, account.phone, None
                db.commit()
        verdict(target.phone not in reply, "full phone in a reply to someone else", reply)
        CHECKS["commands"] += 1
    # 账号 lists only accounts one level down inside the sender's unit.
    for actor in world.staff[:5]:
        listing = wechat.ask(actor.openid, "账号")
        listed = {p.key for p in world.people if re.search(re.escape(p.name) + r"(?!\d)", listing)}
        outside = {k for k in listed if not manages(actor, next(p for p in world.people if p.key == k))}
        verdict(not outside, "账号 lists accounts outside", actor.key, outside, listing)
        CHECKS["commands"] += 1
    # 届别滚动 touches every counselor inside the sender's unit (FAQ 16), and no one else.
    roller = world.staff[pairs[0][0] % len(world.staff)]
    wechat.ask(roller.openid, "届别滚动 2028")
    db.commit()
    db.expire_all()
    for p in world.counselors:
        has = 2028 in db.get(Account, p.account_id).cohorts
        verdict(has == inside(roller, p), "届别滚动", roller.key, p.key, has)
    CHECKS["commands"] += 1


# -- chat: counselors ----------------------------------------------------------------------------------
STAFF_COMMANDS = ["派发\n标题：x\n类型：其他\n届别：2026\n内容：x", "确认", "取消", "进度 {t}", "未完成 {t}", "触达", "催办 {t}",
                  "撤销 {t}", "添加辅导员 张三 13900000001 本科 软件工程", "添加院系账号 李四 13900000002 院0",
                  "添加学校账号 王五 13900000003 校0", "添加省级账号 赵六 13900000004 省9", "删除账号 {phone}",
                  "修改届别 {phone} 2027", "届别滚动 2027", "账号", "修改 {phone} 届别 2027", "重发短信 {phone}",
                  "记录", "导出 {t}"]


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds(), pick=st.integers(0, 1000))
def test_counselors_cannot_use_staff_commands(app, db, simulator, wechat, spec, pick):
    fresh(app, db, simulator)
    world = build(db, simulator, spec)
    CHECKS["examples"] += 1
    counselor = world.counselors[pick % len(world.counselors)]
    other = world.counselors[(pick + 1) % len(world.counselors)]
    task_id = next(iter(world.tasks))
    before = {a.id: (a.active, tuple(a.cohorts)) for a in db.scalars(select(Account))}
    for command in STAFF_COMMANDS:
        reply = wechat.ask(counselor.openid, command.format(t=task_id, phone=other.phone))
        verdict(STAFF_ONLY in reply, "staff command answered to a counselor", command, reply)
        CHECKS["commands"] += 1
    db.commit()
    db.expire_all()
    after = {a.id: (a.active, tuple(a.cohorts)) for a in db.scalars(select(Account))}
    verdict(before == after, "a counselor changed accounts")
    # 完成 / 签到 / 任务 N only on tasks it received.
    for task_id, (_, recipients) in world.tasks.items():
        reply = wechat.ask(counselor.openid, f"完成 {task_id}")
        detail = wechat.ask(counselor.openid, f"任务 {task_id}")
        CHECKS["commands"] += 2
        received = counselor.key in recipients
        verdict(("已完成" in reply) == received, "完成", counselor.key, task_id, reply)
        verdict((NOT_FOUND in detail) != received, "任务 N", counselor.key, task_id, detail)
        db.commit()
        done = db.scalar(select(TaskRecipient.completed_at).where(TaskRecipient.task_id == task_id,
                                                                  TaskRecipient.account_id == counselor.account_id))
        verdict((done is not None) == received, "completion row", task_id)


# -- pages ----------------------------------------------------------------------------------------------
def page_session(base: str, openid: str) -> requests.Session:
    http = requests.Session()
    http.cookies.set("sim_openid", openid, domain="127.0.0.1")
    resp = http.get(base + "/auth/login", timeout=10)
    assert resp.status_code == 200, resp.text[:300]
    return http


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds(), picks=st.lists(st.integers(0, 1000), min_size=3, max_size=3))
def test_page_urls_cannot_be_guessed_into_other_data(app, db, simulator, live_server, spec, picks):
    fresh(app, db, simulator)
    world = build(db, simulator, spec)
    CHECKS["examples"] += 1
    names = {p.key: p.name for p in world.counselors}
    for pick in picks:
        staff = world.staff[pick % len(world.staff)]
        http = page_session(live_server, staff.openid)
        for task_id in world.tasks:
            resp = http.get(f"{live_server}/progress/{task_id}", timeout=10)
            CHECKS["pages"] += 1
            verdict(resp.status_code < 500, resp.status_code)
            issuer_title = f"任务由{world.tasks[task_id][0].name}"
            if not sees_task(staff, world, task_id):
                verdict(resp.status_code in (403, 404) and issuer_title not in resp.text,
                        "progress page of an unseen task", staff.key, task_id, resp.status_code)
                continue
            verdict(resp.status_code == 200, "progress page refused", staff.key, task_id, resp.status_code)
            keys = figure_keys(staff, world, task_id)
            shown = {k for k, name in names.items() if re.search(re.escape(name) + r"(?!\d)", resp.text)}
            verdict(shown <= keys, "progress page names outside scope", staff.key, shown - keys)
        counselor = world.counselors[pick % len(world.counselors)]
        http = page_session(live_server, counselor.openid)
        for task_id, (issuer, recipients) in world.tasks.items():
            resp = http.get(f"{live_server}/tasks/{task_id}", timeout=10)
            CHECKS["pages"] += 1
            title = f"任务由{issuer.name}"
            if counselor.key in recipients:
                verdict(resp.status_code == 200 and title in resp.text, "own task page", task_id, resp.status_code)
            else:
                verdict(resp.status_code in (403, 404) and title not in resp.text, "other's task page", task_id,
                        resp.status_code)
            # A POST to another's task changes nothing.
            http.post(f"{live_server}/tasks/{task_id}/complete", data={"csrf": "guess"}, timeout=10)
            CHECKS["pages"] += 1
        # The staff pages are not for counselors; the counselor pages are not for staff.
        verdict(http.get(f"{live_server}/progress/", timeout=10).status_code == 403, "counselor on /progress/")
        staff_http = page_session(live_server, staff.openid)
        verdict(staff_http.get(f"{live_server}/tasks/", timeout=10).status_code == 403, "staff on /tasks/")
        CHECKS["pages"] += 2
    # Share links: only a token signed with our SECRET_KEY opens one.
    task_id = next(iter(world.tasks))
    title = f"任务由{world.tasks[task_id][0].name}"
    forged = [str(task_id), URLSafeSerializer("guessed-secret", salt="fdy-share-task").dumps(task_id),
              URLSafeSerializer(app.config["SECRET_KEY"], salt="other-salt").dumps(task_id),
              URLSafeSerializer(app.config["SECRET_KEY"], salt="fdy-share-task").dumps(task_id)[:-2] + "xx"]
    for token in forged:
        resp = requests.get(f"{live_server}/share/{token}", timeout=10)
        CHECKS["pages"] += 1
        verdict(resp.status_code in (403, 404) and title not in resp.text, "forged share token", token)
    db.commit()
    for rec in db.scalars(select(TaskRecipient)):
        owner = next(p for p in world.counselors if p.account_id == rec.account_id)
        verdict(rec.completed_at is None or owner.key in world.tasks[rec.task_id][1], "page completion")
