"""`hub worker`, `hub beat`, `hub flower`, `hub serve`: the long-running processes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import ConfigOpt, err, fail, load_config


def worker(
    config: ConfigOpt = None,
    queues: Annotated[str, typer.Option(help="Comma-separated queues to consume.")] = "sync,decide,push,learn",
    concurrency: Annotated[int, typer.Option(min=1)] = 2,
    loglevel: str = "INFO",
    hostname: Annotated[str | None, typer.Option(help="Celery node name.")] = None,
) -> None:
    """Start a Celery worker on the hub's queues."""
    from tasks import configure

    settings = load_config(config)
    _check_store(settings.store_url)
    celery_app = configure(settings)
    argv = [
        "worker",
        f"--queues={queues}",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


def _check_store(url: str) -> None:
    """Before a worker (or the beat) starts: a store never migrated (or migrated by a newer hub) fails
    every task, so it is an error (exit 1, what to do); one that does not answer may be
    restarting, so the worker starts and says so, and its tasks retry until it is back."""
    from hub.errors import StoreUnavailable
    from hub.store import Store

    try:
        Store(url).dispose()
    except StoreUnavailable as exc:
        err.print(f"warning: {exc}; starting anyway: tasks retry until the store is back", markup=False)


def beat(config: ConfigOpt = None, loglevel: str = "INFO", schedule_file: Path = Path("celerybeat-schedule")) -> None:
    """Start the scheduler (run exactly one): syncs and pushes at each connector's interval."""
    from tasks import configure

    settings = load_config(config)
    _check_store(settings.store_url)  # as a worker does: a store never migrated is refused before it schedules
    celery_app = configure(settings)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule_file}"])


def flower(config: ConfigOpt = None, port: int = 5555) -> None:
    """Start Flower, Celery's monitor (basic auth from FLOWER_BASIC_AUTH=user:password)."""
    from tasks import configure

    try:
        import flower as _  # noqa: F401
    except ImportError:
        err.print("Flower is not installed: pip install 'decision-hub[ops]'", markup=False)
        raise typer.Exit(1) from None
    celery_app = configure(load_config(config))
    celery_app.start(["flower", f"--port={port}"])


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: api.port).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Processes (default: api.workers).")] = None,
    log_level: Annotated[str, typer.Option(help=f"uvicorn log level: {', '.join(LOG_LEVELS)}.")] = "warning",
) -> None:
    """Serve the real-time decision API and the admin console (uvicorn)."""
    if log_level not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    from hub.api.server import listen_problem
    from hub.api.server import serve as run_server

    settings = load_config(config)
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    if problem := listen_problem(bind_host, bind_port):
        raise fail(problem)
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host
    err.print(
        f"Serving the API and console on http://{shown}:{bind_port}/ (console: http://{shown}:{bind_port}/console)"
        " - Ctrl-C stops it.",
        markup=False,
        highlight=False,
    )
    run_server(config, host, port, workers, log_level)
