"""(being written)"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages_progress", __name__)
