"""`诊断`: the four conditions of the phone-A rule, one line each with ✔/✘ and a fix."""
from __future__ import annotations

from bot.followers import refresh_following
from models.diagnosis import ALL_OK, CASE1, CASE2, NOT_FOLLOWING, UNBOUND, diagnose
from tests.test_binding import fresh
from tests.wechat_client import new_openid


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "✔✘—"]


def say(simulator, openid, text):
    result = simulator.send(openid, text=text)
    assert result["error"] is None and result["content"], result
    return result["content"]


def test_all_four_pass_for_a_bound_counselor(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    counselor = factory.counselor(factory.college(name="计算机学院"), name="赵老师", openid=openid)
    factory.commit()
    reply = say(simulator, openid, "诊断")
    marks = lines(reply)
    assert len(marks) == 4 and all(line.startswith("✔") for line in marks), reply
    assert "赵老师" in reply and "计算机学院" in reply and counselor.phone not in reply
    assert len(reply) < 600


def test_unbound_user_is_told_how_to_bind(simulator, live_server):
    openid = simulator.add_user()["openid"]
    reply = say(simulator, openid, "诊断")
    assert "尚未绑定" in reply and "绑定 手机号" in reply and "登录绑定" in reply
    assert "抱歉" not in reply  # not an error
    assert lines(reply)[0].startswith("✘ 1.")
    assert len(reply) < 600, len(reply)


def test_diagnose_click_button(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    factory.counselor(factory.college(), openid=openid)
    factory.commit()
    result = simulator.send(openid, event="CLICK", event_key="DIAGNOSE")
    assert result["content"].startswith("诊断结果") and len(lines(result["content"])) == 4


def test_case1_fix_is_ask_the_superior(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    factory.identity("13511112222", openid=openid)
    factory.commit()
    reply = say(simulator, openid, "诊断")
    marks = lines(reply)
    assert marks[0].startswith("✔ 1.") and marks[2].startswith("✔ 3.")
    assert marks[1].startswith("✘ 2.") and "账号不存在" in marks[1]
    assert "上级管理员" in reply and "135****2222" in reply and "解绑" in reply
    assert len(reply) < 600, len(reply)


def test_case2_with_the_phone_the_user_means(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    factory.identity("13511113333", openid=openid)
    counselor = factory.counselor(factory.college())
    factory.commit()
    reply = say(simulator, openid, "诊断 " + counselor.phone)
    marks = lines(reply)
    assert [m[0] for m in marks] == ["✔", "✔", "✔", "✘"], reply
    assert "尾号3333" in marks[3] and "账号不存在" in marks[3]
    assert f"回复「解绑」，再回复「绑定 {counselor.phone}」" in reply
    assert len(reply) < 600, len(reply)
    fresh(db)
    assert diagnose(db, openid, phone=counselor.phone).outcome == CASE2


def test_unbound_user_with_a_phone_to_check(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    counselor = factory.counselor(factory.college(), with_identity=False)
    factory.commit()
    reply = say(simulator, openid, "诊断 " + counselor.phone)
    marks = lines(reply)
    assert [m[0] for m in marks] == ["✔", "✔", "✘", "✘"], reply
    assert "自动补建登录账号" in reply
    assert counselor.name not in reply  # whose phone it is stays private until it is bound here
    # With no platform account either: case 1's fix.
    reply = say(simulator, openid, "诊断 13799998888")
    assert lines(reply)[1].startswith("✘ 2.") and "账号不存在" in reply


def test_latest_binding_phone_is_used_when_unbound(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    counselor = factory.counselor(factory.college())
    factory.commit()
    say(simulator, openid, "绑定 " + counselor.phone)
    reply = say(simulator, openid, "诊断")
    assert "您最近申请绑定的手机号" in reply and lines(reply)[3].startswith("✘ 4.")


def test_outcomes_in_the_model(app, factory, db):
    college = factory.college()
    ok_openid, case1_openid, gone_openid = new_openid(), new_openid(), new_openid()
    factory.counselor(college, openid=ok_openid)
    factory.identity("13522223333", openid=case1_openid)
    factory.counselor(college, openid=gone_openid, following=False)
    factory.commit()
    assert diagnose(db, ok_openid).outcome == ALL_OK
    assert diagnose(db, case1_openid).outcome == CASE1
    assert diagnose(db, new_openid()).outcome == UNBOUND
    gone = diagnose(db, gone_openid)
    assert gone.outcome == NOT_FOLLOWING and "未关注公众号" in gone.checks[3].detail and gone.checks[3].fix


def test_following_refreshed_from_user_info(app, factory, db, simulator):
    user = simulator.add_user(subscribe=False)
    factory.counselor(factory.college(), openid=user["openid"])  # our record says following
    factory.commit()
    assert refresh_following(db, user["openid"]) is False
    assert diagnose(db, user["openid"]).outcome == NOT_FOLLOWING
    assert simulator.calls("/cgi-bin/user/info")
    # WeChat unreachable: the stored flag is used.
    simulator.add_faults({"path": "/cgi-bin/user/info", "status": 502, "times": 1})
    assert refresh_following(db, user["openid"]) is False
