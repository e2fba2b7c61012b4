"""The web service, `aarshjul web`: one-click unsubscribe, the site and its feeds, and the
board's answers to "was it held?". See web/app.py."""
