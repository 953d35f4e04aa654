"""`帮助` for the sender's role, and the fallback that answers anything unhandled."""
from __future__ import annotations

from bot.context import current_sender
from models.resolution import Sender

from .common import ANY, bind_instructions, click, command, no_account_text

COUNSELOR_HELP = (
    "辅导员可用命令：\n"
    "任务 —— 待办与近期任务\n"
    "任务 12 —— 查看任务详情\n"
    "完成 12 —— 标记任务已完成\n"
    "签到 15 —— 直播课签到\n"
    "进展 —— 就业统计\n"
    "毕业生 —— 毕业生信息汇总\n"
    "诊断 —— 检查登录绑定\n"
    "解绑 —— 解除微信绑定"
)

STAFF_HELP = (
    "工作人员可用命令：\n"
    "任务 —— 我发布和我管理范围内的任务\n"
    "派发 —— 发布任务（回复「派发」查看格式）\n"
    "进度 12 / 未完成 12 / 催办 12 —— 督办任务\n"
    "触达 —— 辅导员关注与绑定情况\n"
    "账号 —— 下级账号（带编号和手机号）\n"
    "添加辅导员 / 添加院系账号 / 添加学校账号 / 添加省级账号\n"
    "删除账号 对象 / 修改届别 对象 2026 / 届别滚动 2027（对象：「账号」中的编号、姓名或手机号）\n"
    "修改 对象 字段 新值 —— 如：修改 3 专业 软件工程（字段：姓名、手机、院系、层次、专业、届别）\n"
    "重发短信 对象 / 记录 —— 重发开通短信 / 最近的账号变更\n"
    "诊断 / 解绑"
)


def help_text(sender: Sender) -> str:
    if sender.account is None:
        if sender.identity is not None:
            return no_account_text(sender)
        return "欢迎使用全国高校毕业班辅导员就业工作平台。\n" + bind_instructions()
    header = f"{sender.account.name}（{sender.account.level_name}）您好。\n"
    return header + (COUNSELOR_HELP if sender.account.is_counselor else STAFF_HELP)


def register(robot) -> None:
    @command(robot, r"(帮助|help|HELP|\?|？|菜单)", needs=ANY)
    def help_command(message, sender, match):
        return help_text(sender)

    @click(robot, "HELP", needs=ANY)
    def help_click(message, sender, match):
        return help_text(sender)


def register_fallback(robot) -> None:
    """Registered last: any message nobody answered gets the help for the sender's role."""

    def fallback(message):
        sender = current_sender(message.source)
        prefix = "" if message.type == "text" else "暂不支持处理此类消息，请发送文字命令。\n"
        if message.type == "text":
            prefix = "没有看懂您的消息。\n"
        return prefix + help_text(sender)

    for kind in ("text", "image", "voice", "video", "shortvideo", "location", "link", "unknown"):
        robot.add_handler(fallback, type=kind)
