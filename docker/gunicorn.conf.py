"""Gunicorn settings for the console image: gthread workers, JSON request logs from the app."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# The root filesystem is read-only; worker heartbeats go to memory.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs private to the container)
# The console writes one structured line per request itself (without query strings, which can
# carry patient search terms); gunicorn's access log would repeat it with them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Gunicorn's own lines (start-up, workers, errors) as the console's JSON lines on stderr. The
# dictionary replaces gunicorn's default logging setup whole: no plain-text root handler (it
# would repeat every console line), and the access logger drops everything.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["json"],
            "propagate": False,
            "qualname": "gunicorn.error",
        },
        "gunicorn.access": {
            "level": "CRITICAL",
            "handlers": [],
            "propagate": False,
            "qualname": "gunicorn.access",
        },
    },
    "handlers": {"json": {"()": "console.ops.request_log.StderrJsonHandler"}},
    "formatters": {},
}
# No runtime control socket: the container is managed by restarting it, and its home directory
# is not writable.
control_socket_disable = True
