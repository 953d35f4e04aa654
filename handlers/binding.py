"""(being written)"""
from __future__ import annotations


def register(robot) -> None:
    """Registers this module's commands on the robot."""
