"""Menus (SPEC 7): data, validation with paths, push to the simulator, CLI, `发布菜单`."""
from __future__ import annotations

import json

import pytest

from menus.data import ROLE_TAGS, all_menus, click, view
from menus.validate import MenuError, menu_errors, validate_menus


def names(buttons):
    return [b["name"] for b in buttons]


def sub_names(button):
    return [b["name"] for b in button["sub_button"]]


# -- data -------------------------------------------------------------------------
def test_menus_follow_the_spec(app):
    menus = all_menus({"PUBLIC_BASE_URL": "https://fdy.example.edu.cn/", "NEWS_URL": "https://news.example/"})
    default, counselor, staff = menus["default"], menus["counselor"], menus["staff"]
    flat = lambda buttons: [b["name"] for top in buttons for b in (top.get("sub_button") or [top])]  # noqa: E731
    assert sorted(flat(default)) == sorted(["登录绑定", "诊断", "帮助", "就业资讯"])
    assert names(counselor)[:2] == ["我的任务", "就业进展"]
    assert sub_names(counselor[2]) == ["毕业生", "诊断", "帮助", "就业资讯", "登录绑定"]
    assert names(staff)[:2] == ["任务", "触达"]
    assert sub_names(staff[2]) == ["账号", "诊断", "帮助", "登录绑定"]
    assert counselor[0]["url"] == "https://fdy.example.edu.cn/tasks/"
    assert counselor[1]["url"] == "https://fdy.example.edu.cn/stats"
    assert default[0]["url"] == "https://fdy.example.edu.cn/auth/login"
    assert default[2]["sub_button"][1]["url"] == "https://news.example/"
    for buttons in menus.values():
        assert menu_errors(buttons) == []


# -- validation ---------------------------------------------------------------------
def test_fourth_top_button_is_reported_with_its_path():
    buttons = [click(f"按钮{i}", f"K{i}") for i in range(4)]
    assert menu_errors(buttons) == ["button[3]: 超过3个一级菜单"]


def test_sixth_sub_button_is_reported_with_its_path():
    buttons = [click("诊断", "D"), {"name": "更多", "sub_button": [click(f"子{i}", f"K{i}") for i in range(6)]}]
    assert menu_errors(buttons) == ["button[1].sub_button[5]: 超过5个子菜单"]


def test_names_keys_urls_and_types():
    long_top = "一二三四五六"  # 18 bytes
    buttons = [
        click(long_top, "A"),
        {"name": "更多", "sub_button": [
            click("好" * 21, "B"),                         # 63 bytes > 60
            click("键", "K" * 129),
            view("链接", "https://e.example/" + "x" * 1010),
            {"type": "bogus", "name": "怪"},
            view("无协议", "ftp://x"),
        ]},
        {"name": "", "type": "click", "key": "C"},
    ]
    errors = menu_errors(buttons)
    assert errors == [
        "button[0].name: 名称超过16字节（「一二三四五六」为18字节）",
        f"button[1].sub_button[0].name: 名称超过60字节（「{'好' * 21}」为63字节）",
        "button[1].sub_button[1].key: key 超过128字节（129字节）",
        "button[1].sub_button[2].url: 链接超过1024字节（1028字节）",
        "button[1].sub_button[3].type: 不支持的按钮类型 'bogus'",
        "button[1].sub_button[4].url: 链接须以 http:// 或 https:// 开头",
        "button[2].name: 名称不能为空",
    ]


def test_limits_are_inclusive():
    ok = [click("一二三四五", "K" * 128),
          {"name": "更多", "sub_button": [view("好" * 20, "https://e.example/" + "x" * 1006)] * 5}]
    assert menu_errors(ok) == []
    assert menu_errors([]) == ["button: 菜单至少需要1个一级菜单"]


def test_validate_menus_names_the_menu():
    with pytest.raises(MenuError) as info:
        validate_menus({"staff": [click("任务", "T")] * 4})
    assert info.value.errors == ["staff.button[3]: 超过3个一级菜单"]


# -- push ------------------------------------------------------------------------------
def paths(simulator):
    return [c["path"] for c in simulator.calls() if c["path"] != "/cgi-bin/token"]


def test_push_creates_tags_default_and_conditional_menus(app, ctx, simulator):
    from jobs.menus import push_menus_job

    outcome = push_menus_job()
    assert outcome["ok"], outcome
    assert paths(simulator) == ["/cgi-bin/tags/get", "/cgi-bin/tags/create", "/cgi-bin/tags/create",
                                "/cgi-bin/menu/delete", "/cgi-bin/menu/create",
                                "/cgi-bin/menu/addconditional", "/cgi-bin/menu/addconditional"]
    tags = {t["name"]: t["id"] for t in simulator.state.tags.values()}
    assert set(tags) == set(ROLE_TAGS.values())
    conditional = simulator.calls("/cgi-bin/menu/addconditional")
    rules = [c["json"]["matchrule"] for c in conditional]
    assert rules == [{"tag_id": str(tags["辅导员"])}, {"tag_id": str(tags["工作人员"])}]
    assert all(c["response"].get("menuid") for c in conditional)
    assert names(simulator.state.menu["button"]) == ["登录绑定", "诊断", "更多"]

    # A tagged user sees its role's menu; others the default one.
    counselor = simulator.add_user(openid="oCounselorMenu000000000000001")
    simulator.state.users[counselor["openid"]]["tagid_list"].append(tags["辅导员"])
    assert names(simulator.state.menu_for(counselor["openid"])["button"]) == ["我的任务", "就业进展", "更多"]
    plain = simulator.add_user()
    assert simulator.state.menu_for(plain["openid"])["conditional"] is False

    # Pushing again reuses the tags and replaces the menus.
    assert push_menus_job()["ok"]
    assert len(simulator.state.conditional_menus) == 2
    assert len(simulator.state.tags) == 2


def test_bad_menu_is_refused_before_any_call(app, ctx, simulator):
    from jobs.menus import push_menus_job

    app.config["NEWS_URL"] = "https://news.example/" + "x" * 1100
    try:
        outcome = push_menus_job()
    finally:
        app.config["NEWS_URL"] = "https://www.ncss.cn/"
    assert not outcome["ok"]
    assert "default.button[2].sub_button[1].url: 链接超过1024字节" in outcome["text"]
    assert paths(simulator) == []


def test_wechat_error_is_reported(app, ctx, simulator):
    from jobs.menus import push_menus_job

    simulator.add_faults({"path": "/cgi-bin/menu/addconditional", "errcode": 40016, "times": 1})
    outcome = push_menus_job()
    assert not outcome["ok"] and "40016" in outcome["text"]


def test_cli_push_now_and_show(app, runner, simulator):
    result = runner.invoke(args=["menu", "push", "--now"])
    assert result.exit_code == 0, result.output
    assert "菜单已发布" in result.output
    assert simulator.calls("/cgi-bin/menu/create")

    shown = runner.invoke(args=["menu", "show"])
    assert shown.exit_code == 0
    data = json.loads(shown.output)
    assert names(data["default"]["button"]) == ["登录绑定", "诊断", "更多"]
    assert [(m["role"], m["tag"]) for m in data["conditional"]] == [("counselor", "辅导员"), ("staff", "工作人员")]
    assert "problems" not in data


def test_cli_push_queues_a_job_and_reports_when_no_worker(app, runner, redis_conn):
    import jobs

    result = runner.invoke(args=["menu", "push", "--wait", "0"])
    assert result.exit_code == 2
    assert "已排队" in result.output
    with app.app_context():
        assert jobs.queue(jobs.HIGH).count == 1


# -- 发布菜单 from chat -------------------------------------------------------------------
def test_ministry_publishes_menus_from_chat(factory, simulator, live_server, run_jobs):
    openid = simulator.add_user()["openid"]
    factory.staff("ministry", factory.ministry(), openid=openid, name="部里")
    factory.commit()
    result = simulator.send(openid, text="发布菜单")
    assert "菜单发布已开始" in result["content"]
    run_jobs()
    inbox = simulator.inbox(openid)
    assert inbox and "菜单已发布" in inbox[-1]["content"]
    assert simulator.state.menu is not None and len(simulator.state.conditional_menus) == 2


def test_publish_menus_is_ministry_only(factory, simulator, live_server, run_jobs):
    openid = simulator.add_user()["openid"]
    factory.staff("province", factory.province(), openid=openid)
    factory.commit()
    assert "仅限部级" in simulator.send(openid, text="发布菜单")["content"]
    unbound = simulator.add_user()["openid"]
    assert "尚未绑定" in simulator.send(unbound, text="发布菜单")["content"]
    run_jobs()
    assert simulator.state.menu is None


# -- menu buttons in chat ------------------------------------------------------------------
def test_bind_button_gives_instructions_with_the_login_link(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    reply = simulator.send(openid, event="CLICK", event_key="BIND")["content"]
    assert "绑定 手机号" in reply and live_server + "/auth/login" in reply

    bound = simulator.add_user()["openid"]
    factory.counselor(factory.college(), openid=bound, name="钱老师")
    factory.commit()
    reply = simulator.send(bound, event="CLICK", event_key="BIND")["content"]
    assert "已绑定" in reply and "钱老师" in reply and "解绑" in reply


def test_command_buttons_answer_like_the_typed_command(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    factory.staff("school", factory.school(), openid=openid)
    factory.commit()
    for key, text in (("TASKS", "任务"), ("REACH", "触达"), ("ACCOUNTS", "账号")):
        clicked = simulator.send(openid, event="CLICK", event_key=key)["content"]
        typed = simulator.send(openid, text=text)["content"]
        assert clicked and clicked == typed, key
