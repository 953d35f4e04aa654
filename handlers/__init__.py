"""What a message, click, event or page request does: one module per concern.

register_all() is the one place the order of handlers is decided: WeRoBot
tries them in registration order and the first non-empty reply wins, so
specific commands come first and the help fallback last.
"""
from __future__ import annotations

from bot.robot import get_robot

from . import accounts, binding, cli, counselor, events, health, help, menus, pages, questions, staff, stats


def register_all(robot) -> None:
    events.register(robot)      # subscribe/unsubscribe, delivery receipts
    questions.register(robot)   # a command word inside a question: the FAQ answers, not the command
    binding.register(robot)     # 绑定, the 6-digit code, 解绑, 诊断
    accounts.register(robot)    # staff account commands
    staff.register(robot)       # 派发/确认/取消, 进度, 未完成, 触达, 催办, staff 任务
    counselor.register(robot)   # counselor 任务, 完成, 签到
    stats.register(robot)       # 进展, 毕业生
    help.register(robot)        # 帮助
    menus.register(robot)       # 发布菜单, menu buttons that stand for a command
    questions.register_fallback(robot)  # near misses, FAQ answers, help


def init_app(app) -> None:
    register_all(get_robot(app))
    app.register_blueprint(health.bp)   # /healthz
    pages.init_app(app)
    cli.init_app(app)
    if not app.testing:
        questions.warm_up()
