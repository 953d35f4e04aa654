"""Menus (SPEC 7): data, validation with paths, push to the simulator, CLI, `发布菜单`."""
from __future__ import annotations

import json

import pytest

from menus.data import FDY_COLUMN, ROLE_TAGS, account_columns, all_menus, click, view
from menus.validate import MenuError, menu_errors, validate_menus


def names(buttons):
    return [b["name"] for b in buttons]


def sub_names(button):
    return [b["name"] for b in button["sub_button"]]


# -- data -------------------------------------------------------------------------
def test_menus_follow_the_spec(app):
    config = {"PUBLIC_BASE_URL": "https://fdy.example.edu.cn/", "NEWS_URL": "https://news.example/"}
    menus = all_menus(config)
    columns = account_columns(config)
    assert [c["name"] for c in columns] == ["找工作", "就业资讯"] and columns[1]["url"] == "https://news.example/"
    for buttons in menus.values():
        # The 24365 account's own columns stay in every menu; fdy's column is 辅导员.
        assert buttons[:-1] == columns and buttons[-1]["name"] == FDY_COLUMN == "辅导员"
        assert menu_errors(buttons) == []
    default, counselor, staff = (menus[k][-1] for k in ("default", "counselor", "staff"))
    assert sub_names(default) == ["登录绑定", "诊断", "帮助"]
    assert sub_names(counselor) == ["我的任务", "就业进展", "毕业生", "诊断", "帮助"]
    assert sub_names(staff) == ["任务", "触达", "账号", "诊断", "帮助"]
    assert counselor["sub_button"][0]["url"] == "https://fdy.example.edu.cn/tasks/"
    assert counselor["sub_button"][1]["url"] == "https://fdy.example.edu.cn/stats"
    assert default["sub_button"][0]["url"] == "https://fdy.example.edu.cn/auth/login"


def test_account_columns_are_data(tmp_path):
    data = {"columns": [{"type": "view", "name": "校园招聘", "url": "{NEWS_URL}jobs"}]}
    path = tmp_path / "columns.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert account_columns({"NEWS_URL": "https://n.example/"}, path) == [view("校园招聘", "https://n.example/jobs")]


# -- validation ---------------------------------------------------------------------
def test_fourth_top_button_is_reported_in_words():
    buttons = [click(f"按钮{i}", f"K{i}") for i in range(4)]
    assert menu_errors(buttons) == ["第4个一级菜单「按钮3」：一级菜单最多3个"]


def test_sixth_sub_button_is_reported_in_words():
    buttons = [click("诊断", "D"), {"name": "更多", "sub_button": [click(f"子{i}", f"K{i}") for i in range(6)]}]
    assert menu_errors(buttons) == ["第2个一级菜单「更多」的第6个子菜单「子5」：每个一级菜单最多5个子菜单"]


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
    more = "第2个一级菜单「更多」的"
    assert errors == [
        "第1个一级菜单「一二三四五六」：名称超过16字节（「一二三四五六」为18字节，一个汉字3字节）",
        f"{more}第1个子菜单「{'好' * 21}」：名称超过60字节（「{'好' * 21}」为63字节，一个汉字3字节）",
        f"{more}第2个子菜单「键」：按钮标识（key）超过128字节（129字节）",
        f"{more}第3个子菜单「链接」：网址超过1024字节（1028字节）",
        f"{more}第4个子菜单「怪」：不支持的按钮类型「bogus」",
        f"{more}第5个子菜单「无协议」：网址须以 http:// 或 https:// 开头",
        "第3个一级菜单：名称不能为空",
    ]
    # Words only: no Python paths or reprs reach an admin.
    assert not [e for e in errors if "button[" in e or "'" in e]


def test_limits_are_inclusive():
    ok = [click("一二三四五", "K" * 128),
          {"name": "更多", "sub_button": [view("好" * 20, "https://e.example/" + "x" * 1006)] * 5}]
    assert menu_errors(ok) == []
    assert menu_errors([]) == ["菜单至少需要1个一级菜单"]


def test_validate_menus_names_the_menu():
    with pytest.raises(MenuError) as info:
        validate_menus({"staff": [click("任务", "T")] * 4})
    assert info.value.errors == ["工作人员菜单：第4个一级菜单「任务」：一级菜单最多3个"]


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
    assert names(simulator.state.menu["button"]) == ["找工作", "就业资讯", "辅导员"]
    assert sub_names(simulator.state.menu["button"][2]) == ["登录绑定", "诊断", "帮助"]

    # A tagged user sees its role's menu; others the default one.
    counselor = simulator.add_user(openid="oCounselorMenu000000000000001")
    simulator.state.users[counselor["openid"]]["tagid_list"].append(tags["辅导员"])
    seen = simulator.state.menu_for(counselor["openid"])["button"]
    assert names(seen) == ["找工作", "就业资讯", "辅导员"] and sub_names(seen[2])[:2] == ["我的任务", "就业进展"]
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
    assert "默认菜单：第2个一级菜单「就业资讯」：网址超过1024字节" in outcome["text"]
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
    assert names(data["default"]["button"]) == ["找工作", "就业资讯", "辅导员"]
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
