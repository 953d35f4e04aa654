"""The account's template definitions ("我的模板" in the WeChat console): title and field names,
so the chat page shows 任务名称：… instead of thing1：…. Defaults come from templates.json;
POST /_sim/templates adds or replaces one, GET /cgi-bin/template/get_all_private_template lists them."""
from __future__ import annotations

import json
import re
from pathlib import Path

DEFAULTS_FILE = Path(__file__).with_name("templates.json")
_FIELD = re.compile(r"^\s*(?P<name>[^:：{]+?)\s*[:：]\s*\{\{(?P<key>\w+)\.DATA\}\}", re.M)


def load_defaults(path: Path = DEFAULTS_FILE) -> dict[str, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {t["template_id"]: {"title": t["title"], "content": t["content"]} for t in data["templates"]}


def fields(content: str) -> list[list[str]]:
    """[[field name, data key], ...] in the order of the template's content."""
    return [[m.group("name"), m.group("key")] for m in _FIELD.finditer(content or "")]


def rendering(templates: dict[str, dict], template_id: str) -> dict:
    """What the chat page needs to show a message of this template (empty when it is unknown)."""
    definition = templates.get(template_id)
    if definition is None:
        return {}
    return {"template_title": definition["title"], "template_fields": fields(definition["content"])}
