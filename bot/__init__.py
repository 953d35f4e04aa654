"""WeChat infrastructure: hardened webhook, API client, OAuth, dedupe, Redis, signing.

Imports nothing: `bot.app` (the app factory) sits above every other package and is
imported only by wsgi.py (and by tests and benchmarks that build an app).
"""
