"""The pipeline as plain functions: sync -> decide -> push -> outcomes.

Celery tasks (tasks/) and the embedded runner (``hub run --once``) both call these; they are
tested without Celery.
"""
