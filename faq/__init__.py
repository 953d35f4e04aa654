"""Answers to users' questions from the platform's FAQ (faq/questions.toml), matched on meaning."""
from .matcher import Entry, FaqBook, Match, book

__all__ = ["Entry", "FaqBook", "Match", "book"]
