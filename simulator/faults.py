"""Injected faults of the simulated WeChat API: rules that make matching calls fail (errcode,
HTTP status) or answer late. A part of SimState (simulator/state.py), which holds the rules
under its lock."""
from __future__ import annotations


class FaultRules:
    """SimState's fault rules: uses its ``lock``, ``faults``, ``fault_seq`` and tokens."""

    def add_faults(self, rules):
        added = []
        with self.lock:
            for r in rules:
                if not isinstance(r, dict):
                    raise ValueError("each rule must be an object")
                if not any(k in r for k in ("errcode", "status", "delay")):
                    raise ValueError("a rule needs errcode, status or delay")
                self.fault_seq += 1
                rule = {
                    "id": self.fault_seq,
                    "path": r.get("path"),
                    "openid": r.get("openid"),
                    "errcode": int(r["errcode"]) if r.get("errcode") is not None else None,
                    "errmsg": r.get("errmsg"),
                    "status": int(r["status"]) if r.get("status") is not None else None,
                    "delay": float(r["delay"]) if r.get("delay") is not None else None,
                    "times": int(r["times"]) if r.get("times") is not None else None,
                    "hits": 0,
                }
                self.faults.append(rule)
                added.append(dict(rule))
        return added

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def list_faults(self):
        with self.lock:
            return [dict(f) for f in self.faults]

    def take_fault(self, path, openid=None):
        """Find the first rule matching this call, consume one use, return a copy.

        A rule without ``path`` matches the WeChat API (/cgi-bin/, /sns/) only;
        to fail the SMS gateway give ``"path": "/_sim/sms"``.
        """
        with self.lock:
            for rule in list(self.faults):
                rp = rule["path"]
                if rp:
                    if not path.startswith(rp):
                        continue
                elif not (path.startswith("/cgi-bin/") or path.startswith("/sns/")):
                    continue
                if rule["openid"] and rule["openid"] != openid:
                    continue
                rule["hits"] += 1
                if rule["times"] is not None:
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        self.faults.remove(rule)
                if rule["errcode"] == 40001:
                    self.current_token = None
                    self.stable_token = None
                return dict(rule)
        return None
