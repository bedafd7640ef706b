"""Celery app and tasks. Importing this package registers the tasks on the app."""

from tasks import pipeline  # noqa: F401
from tasks.app import app, configure

__all__ = ["app", "configure"]
