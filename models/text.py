"""Text helpers every layer shares: compare names as people type them, suggest the closest, clip.

One copy of each, so the same typo gets the same "closest names" in 派发 and in
添加辅导员, and every reply shortens text the same way.
"""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

MAX_SUGGESTIONS = 3
# Below this difflib ratio a name is not "close": suggesting it would only confuse.
MIN_SIMILARITY = 0.3
# Names are short; a longer input is cut before matching (difflib is quadratic in length).
MAX_NAME = 64

_SPACES = re.compile(r"\s+")
# What separates the items of a list people type: commas of both widths, 、, semicolons, slashes, spaces.
LIST_SPLIT = re.compile(r"[,，、;；/\s]+")


def norm(text: str | None) -> str:
    """Compare names the way people type them: full-width = half-width, spaces ignored."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))


def suggest(name: str, candidates, n: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to n candidates closest to `name` (difflib ratio, containment counts extra)."""
    key = norm(name[:MAX_NAME * 2])[:MAX_NAME]
    scored = []
    for cand in set(candidates):
        ck = norm(cand)[:MAX_NAME]
        ratio = SequenceMatcher(None, key, ck).ratio()
        if key and ck and (key in ck or ck in key):
            ratio += 0.5
        if ratio >= MIN_SIMILARITY:
            scored.append((-ratio, cand))
    return [cand for _, cand in sorted(scored)[:n]]


def clip(text: str, n: int) -> str:
    """`text` cut to at most n characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= n else text[: n - 1] + "…"
