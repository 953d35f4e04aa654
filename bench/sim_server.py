"""The WeChat simulator for the fan-out benchmark, preloaded with the counselors' openids.

    python bench/sim_server.py --users-file openids.tsv [--port 0]

Lines of the users file: "<openid>\t<1 if following else 0>". Prints its URL on
the first line of stdout once it listens. Adds two loopback-only endpoints for
the benchmark (the simulator's own /_sim/stats walks every recorded call):
  GET /_bench/counts     deliveries, duplicates, template sends seen, calls kept
  GET /_bench/per-user[?/tasks/N]  {"<n messages>": <users with n template messages (linking to …/tasks/N)>}
--oauth-delay-ms delays every OAuth code exchange (WeChat's round trip, for bench/pages.py).
The recorded call log is trimmed to the last --keep-calls entries so that a
150,000-message run stays within memory.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator import SimulatorServer  # noqa: E402


def bench_endpoints(app, state):
    # Wall-clock span of the template sends as the server saw them: polling from outside
    # cannot time a fan-out that finishes between two polls.
    sends = {"first": None, "last": None}

    def wsgi(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_bench/"):
            result = app(environ, start_response)
            if path == "/cgi-bin/message/template/send":
                now = time.time()
                with state.lock:
                    sends["first"] = sends["first"] or now
                    sends["last"] = now
            return result
        with state.lock:
            if path == "/_bench/counts":
                body = {"deliveries": state.deliveries, "duplicates": state.duplicates,
                        "template_messages": sum(1 for m in state.inbox if m["kind"] == "template")
                        if environ.get("QUERY_STRING") == "full" else None,
                        "calls_kept": len(state.calls), "users": len(state.users), "time": time.time(),
                        "first_send": sends["first"], "last_send": sends["last"]}
            elif path == "/_bench/per-user":
                # ?<url suffix>: only the messages linking to that page (one task's messages)
                suffix = environ.get("QUERY_STRING") or ""
                per_user = Counter(m["openid"] for m in state.inbox
                                   if m["kind"] == "template" and (m.get("url") or "").endswith(suffix))
                histogram = Counter(per_user.values())
                body = {str(k): v for k, v in sorted(histogram.items())}
            elif path == "/_bench/clear-inbox":
                state.inbox.clear()
                state.client_msg_ids.clear()
                state.deliveries = 0
                state.duplicates = 0
                sends["first"] = sends["last"] = None
                body = {"ok": True}
            else:
                body = {"error": "unknown"}
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return wsgi


def trim_calls(state, keep: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        with state.lock:
            if len(state.calls) > keep:
                del state.calls[:-keep]


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--users-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="bench-token")
    p.add_argument("--app-id", default="wxbench0000000000")
    p.add_argument("--app-secret", default="bench-secret")
    p.add_argument("--keep-calls", type=int, default=5000)
    p.add_argument("--oauth-delay-ms", type=float, default=0.0,
                   help="every OAuth code exchange (/sns/oauth2/access_token) answers this much later")
    args = p.parse_args(argv)

    sim = SimulatorServer(app_url=None, token=args.token, app_id=args.app_id, app_secret=args.app_secret,
                          host="127.0.0.1", port=args.port, receipts=False, quiet=True)
    n = 0
    with open(args.users_file, encoding="utf-8") as fh:
        for line in fh:
            openid, _, following = line.rstrip("\n").partition("\t")
            if openid:
                sim.state.add_user(openid=openid, subscribe=following != "0")
                n += 1
    if args.oauth_delay_ms > 0:
        sim.add_faults({"path": "/sns/oauth2/access_token", "delay": args.oauth_delay_ms / 1000.0})
    sim.app = bench_endpoints(sim.app, sim.state)
    stop = threading.Event()
    threading.Thread(target=trim_calls, args=(sim.state, args.keep_calls, stop), daemon=True).start()

    def ready(url):
        print(url, flush=True)
        print(f"simulator with {n} users at {url}", file=sys.stderr, flush=True)

    try:
        sim.serve_forever(on_ready=ready)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
