"""Which FAQ entry a message asks about: concepts found anywhere in the sentence, weighted.

A message is read as a bag of concepts (faq/questions.toml [synonyms]): a concept is present when
one of its words appears in the text, literally or as the same pinyin (the typos an IME makes:
验证吗, 秘码), or, for longer words, as nearly the same pinyin (rapidfuzz) in a part of the
sentence the vocabulary did not already explain (jieba segments the sentence with the vocabulary as
its dictionary, so filler and dialect particles fall out as leftover characters). Each entry adds
the weights of its keywords present; the best entry at or above `min_score` answers. Word order
and filler do not matter, and the work is linear in the (capped) length of the message.
"""
from __future__ import annotations

import io
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

FAQ_FILE = Path(__file__).with_name("questions.toml")
MAX_CHARS = 160          # longer messages are read up to here: matching stays linear and cheap
FUZZY_MIN_LETTERS = 7    # shorter pinyin is too easy to hit by chance
FUZZY_SCORE = 88.0

_STRIP = re.compile(r"[\s，。！？、,.!?~～…:：;；\"'“”‘’()（）【】\[\]<>《》]+")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    roles: tuple[str, ...]
    keywords: dict[str, int]
    questions: tuple[str, ...]
    answer: str


@dataclass
class Match:
    entry: Entry
    score: int
    concepts: frozenset[str] = field(default_factory=frozenset)


def normalize(text: str) -> str:
    """NFKC, lower case, punctuation and spaces removed, capped: the form every word is looked up in."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", (text or "")[: MAX_CHARS * 2]).lower())[:MAX_CHARS]


def _pinyin(text: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin  # import here: pypinyin loads its dictionaries at import (over a second); only a fallback needs them

    # Non-Chinese runs (digits, letters) come back as one item each; split them per character so
    # that positions line up with the text.
    out: list[str] = []
    for item in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars)):
        out.append(item)
    return out


class FaqBook:
    """The FAQ file, loaded once: entries, the concept vocabulary and the segmenter built from it."""

    def __init__(self, path: Path = FAQ_FILE):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        self.min_score = int(data.get("min_score", 4))
        self.synonyms: dict[str, tuple[str, ...]] = {
            concept: tuple(dict.fromkeys(normalize(w) for w in [concept, *words] if normalize(w)))
            for concept, words in data.get("synonyms", {}).items()}
        self.entries = [Entry(id=e["id"], title=e["title"], roles=tuple(e.get("roles", ())),
                              keywords={k: int(v) for k, v in e["keywords"].items()},
                              questions=tuple(e.get("questions", ())), answer=e["answer"].strip())
                        for e in data["faq"]]
        # A keyword that is not a concept name is a word standing for itself.
        for entry in self.entries:
            for key in entry.keywords:
                self.synonyms.setdefault(key, (normalize(key),))
        self._word_concepts: dict[str, set[str]] = {}
        for concept, words in self.synonyms.items():
            for word in words:
                self._word_concepts.setdefault(word, set()).add(concept)
        self._word_pinyin = {w: " ".join(_pinyin(w)) for w in self._word_concepts if not w.isascii()}
        # Words long enough for fuzzy matching, by syllable count: {3: {"验证码": "yanzhengma"}, ...}.
        self._fuzzy_targets: dict[int, dict[str, str]] = {}
        for word, pinyin in self._word_pinyin.items():
            letters = pinyin.replace(" ", "")
            if len(letters) >= FUZZY_MIN_LETTERS:
                self._fuzzy_targets.setdefault(pinyin.count(" ") + 1, {})[word] = letters
        self._tokenizer = self._segmenter()

    def _segmenter(self):
        import jieba  # import here: slow to load; built once, in the lazily made tokenizer

        jieba.setLogLevel(60)
        tokenizer = jieba.Tokenizer()
        # The vocabulary is the dictionary: no 20 MB general dictionary to load per process.
        words = "\n".join(f"{w} 1000" for w in self._word_concepts if " " not in w)
        tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(io.BytesIO(words.encode("utf-8")))
        tokenizer.initialized = True
        return tokenizer

    def concepts(self, text: str) -> frozenset[str]:
        """The concepts a message mentions."""
        norm = normalize(text)
        found: set[str] = set()
        for word, concepts in self._word_concepts.items():
            if word in norm:
                found |= concepts
        syllables = _pinyin(norm)
        spaced = " " + " ".join(syllables) + " "
        for word, pinyin in self._word_pinyin.items():
            if len(word) >= 2 and f" {pinyin} " in spaced:
                found |= self._word_concepts[word]
        found |= self._fuzzy(norm)
        return frozenset(found)

    def _fuzzy(self, norm: str) -> set[str]:
        """Near-homophones in the parts of the sentence no vocabulary word explained: each window of
        as many syllables as a word is compared with the word's pinyin."""
        leftovers, run = [], []
        for token in [*self._tokenizer.cut(norm, HMM=False), ""]:
            if token and token not in self._word_concepts:
                run.append(token)
                continue
            if len(run) >= 2:
                leftovers.append(_pinyin("".join(run)))
            run = []
        found: set[str] = set()
        for syllables in leftovers:
            for size, targets in self._fuzzy_targets.items():
                for start in range(0, len(syllables) - size + 1):
                    window = "".join(syllables[start:start + size])
                    hit = process.extractOne(window, targets, scorer=fuzz.ratio, score_cutoff=FUZZY_SCORE)
                    if hit is not None:
                        found |= self._word_concepts[hit[2]]
        return found

    def best(self, text: str, role: str | None = None) -> Match | None:
        """The entry the message asks about, or None. Entries for the sender's role win ties."""
        found = self.concepts(text)
        best: Match | None = None
        for entry in self.entries:
            score = sum(weight for key, weight in entry.keywords.items() if key in found)
            if score < self.min_score:
                continue
            rank = (score, role in entry.roles)
            if best is None or rank > (best.score, role in best.entry.roles):
                best = Match(entry, score, found)
        return best


_book: FaqBook | None = None
_lock = threading.Lock()


def book() -> FaqBook:
    """The FAQ, loaded on first use (a fraction of a second once per process, never at import)."""
    global _book
    if _book is None:
        with _lock:
            if _book is None:
                _book = FaqBook()
    return _book
