"""Gunicorn settings for ``make serve``: the app behind several worker processes on one read-only database.

Address, port and worker count come from the app's settings (``PATHFINDER_HOST``, ``PATHFINDER_PORT``,
``PATHFINDER_WORKERS``); command-line flags (``gunicorn -c gunicorn.conf.py --bind ...``) override them.

- ``preload_app``: the app is imported once in the master and forked, so workers share its read-only
  memory (Dash, pandas, page layouts) and, in demo mode, the one random session key (otherwise a user
  signed in on one worker would be signed out by the next).
- DuckDB allows any number of processes to open a file ``read_only``; the master closes the handle it
  used while loading (``pre_fork``) and each worker opens its own, warms its caches and turns on its
  query cache (``post_fork``).
- ``gthread`` workers: a few threads per process, so one slow callback (DuckDB releases the GIL while it
  scans) does not hold up the quick ones behind it.
"""

from __future__ import annotations

import logging
import threading

from settings import load_settings

_settings = load_settings()

wsgi_app = "app:server"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "gthread"
threads = 4
preload_app = True
# A worker silent this long is restarted. Its warm-up can take minutes on the full-London database, so a
# heartbeat thread reports progress meanwhile (post_fork). Requests run on worker threads, so the main loop
# keeps beating while serving, however long a request takes.
timeout = 120
graceful_timeout = 30
# Short keep-alive (gunicorn's default): a connection held open stays with the worker that accepted it, so
# long-lived ones pile users onto one worker while the other idles; re-connecting after a pause re-spreads them.
keepalive = 2
# No control socket (gunicorn 25+ opens one per server in $HOME by default): two servers on one machine,
# e.g. `make serve` beside a load test, would fight over it. Signals (HUP to reload, TERM to stop) still work.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Client, worker pid, request line, status, bytes, milliseconds.
access_log_format = '%(h)s %(p)s "%(r)s" %(s)s %(b)s %(M)sms'


def on_starting(server):
    logging.basicConfig(level=logging.INFO, format="[%(process)d] %(levelname)s %(name)s: %(message)s")


def pre_fork(server, worker):
    import app

    app.before_fork()


def post_fork(server, worker):
    import app

    # DuckDB releases the GIL while it builds the caches, so this thread keeps the worker's heartbeat going.
    done = threading.Event()

    def heartbeat():
        while not done.wait(5):
            worker.notify()

    beating = threading.Thread(target=heartbeat, name="warm-up heartbeat", daemon=True)
    beating.start()
    try:
        app.start_worker(progress=worker.notify)
    finally:
        done.set()
        beating.join()


def worker_exit(server, worker):
    # The cache's effect, per worker, in the log (bench/load.py reports it).
    from queries import cache

    counts, held = cache.stats(), cache.current()
    server.log.info(
        "query cache: %d hits, %d misses, %d uncacheable, %d entries of %d, %.1f MB of %d, %d too large",
        counts.hits,
        counts.misses,
        counts.uncacheable,
        len(held),
        held.size,
        held.bytes_held / 1e6,
        held.max_bytes // 1_000_000,
        counts.too_large,
    )
