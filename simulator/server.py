"""Run the simulator in a background thread (tests) or the foreground (demo)."""
from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_sim_app, delivery
from .state import DEFAULT_APP_ID, DEFAULT_APP_SECRET, DEFAULT_TOKEN, SimState


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class SimulatorServer:
    """The simulator on loopback.

    ``start()`` returns the base URL (``http://127.0.0.1:PORT``); use it as
    WECHAT_API_BASE and WECHAT_OAUTH_BASE, and ``<url>/_sim/sms`` as
    SMS_HTTP_URL. ``state`` is the live :class:`SimState`.
    """

    def __init__(self, app_url: str | None = None, token: str = DEFAULT_TOKEN,
                 app_id: str = DEFAULT_APP_ID, app_secret: str = DEFAULT_APP_SECRET,
                 aes_key: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 receipts: bool = False, receipt_delay: float = 0.2, quiet: bool = True):
        self.state = SimState(token=token, app_id=app_id, app_secret=app_secret,
                              aes_key=aes_key, app_url=app_url, receipts=receipts,
                              receipt_delay=receipt_delay)
        self.app = create_sim_app(self.state)
        self.host = host
        self.port = port
        self.quiet = quiet
        self.url: str | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self) -> str:
        if self._server is not None:
            return self.url
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler if self.quiet else None)
        self.port = self._server.server_port
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"wechat-sim-{self.port}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def serve_forever(self, on_ready=None) -> None:
        """Foreground mode (python -m simulator). ``on_ready(url)`` is called
        once the socket is bound."""
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler if self.quiet else None)
        self.port = self._server.server_port
        self.url = f"http://{self.host}:{self.port}"
        if on_ready is not None:
            on_ready(self.url)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -------------------------------------------------------------- settings
    @property
    def app_url(self) -> str | None:
        return self.state.app_url

    @app_url.setter
    def app_url(self, value: str | None) -> None:
        self.state.update_config({"app_url": value})

    @property
    def receipts(self) -> bool:
        return self.state.receipts

    @receipts.setter
    def receipts(self, value: bool) -> None:
        self.state.update_config({"receipts": bool(value)})

    # -------------------------------------------------------------- shortcuts
    def reset(self) -> None:
        self.state.reset()

    def add_user(self, openid=None, nickname=None, subscribe=True, receipt="success") -> dict:
        return self.state.add_user(openid=openid, nickname=nickname, subscribe=subscribe,
                                   receipt=receipt)

    def send(self, openid, text=None, event=None, event_key=None, encrypted=False, **kw) -> dict:
        """Same as POST /_sim/send, called directly."""
        return delivery.send_from_user(self.state, openid, text=text, event=event,
                                       event_key=event_key, encrypted=encrypted, **kw)

    def calls(self, path=None) -> list:
        return self.state.list_calls(path=path)

    def stats(self) -> dict:
        return self.state.stats()

    def add_faults(self, *rules) -> list:
        return self.state.add_faults(list(rules))

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def inbox(self, openid, since=0, all=False) -> list:
        kinds = None if all else ("template", "custom")
        return self.state.list_messages(openid, since=since, kinds=kinds)

    def sms(self, since=0, phone=None) -> list:
        return self.state.list_sms(since=since, phone=phone)
