"""python -m simulator --port 9100 --app-url http://127.0.0.1:5000 ..."""
from __future__ import annotations

import argparse
import os
import sys

from .server import SimulatorServer
from .state import DEFAULT_APP_ID, DEFAULT_APP_SECRET, DEFAULT_TOKEN


def main(argv=None):
    env = os.environ
    p = argparse.ArgumentParser(prog="python -m simulator",
                                description="A local WeChat (API, OAuth and a chat page).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--app-url", default=env.get("SIM_APP_URL", "http://127.0.0.1:5000"),
                   help="origin of the fdy app (its /wechat receives the messages)")
    p.add_argument("--token", default=env.get("WECHAT_TOKEN", DEFAULT_TOKEN))
    p.add_argument("--app-id", default=env.get("WECHAT_APP_ID", DEFAULT_APP_ID))
    p.add_argument("--app-secret", default=env.get("WECHAT_APP_SECRET", DEFAULT_APP_SECRET))
    p.add_argument("--aes-key", default=env.get("WECHAT_AES_KEY") or None)
    p.add_argument("--receipts", dest="receipts", action="store_true", default=True,
                   help="push TEMPLATESENDJOBFINISH after template sends (default on)")
    p.add_argument("--no-receipts", dest="receipts", action="store_false")
    p.add_argument("--receipt-delay", type=float, default=1.0)
    p.add_argument("--quiet", action="store_true", help="do not log each request")
    args = p.parse_args(argv)

    sim = SimulatorServer(app_url=args.app_url, token=args.token, app_id=args.app_id,
                          app_secret=args.app_secret, aes_key=args.aes_key, host=args.host,
                          port=args.port, receipts=args.receipts,
                          receipt_delay=args.receipt_delay, quiet=args.quiet)

    def ready(url):
        print(url, flush=True)
        print(f"WeChat simulator: chat page {url}/ , app {args.app_url}", file=sys.stderr,
              flush=True)
        print(f"  WECHAT_API_BASE={url} WECHAT_OAUTH_BASE={url} SMS_HTTP_URL={url}/_sim/sms",
              file=sys.stderr, flush=True)

    try:
        sim.serve_forever(on_ready=ready)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
