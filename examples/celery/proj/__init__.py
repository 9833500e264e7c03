"""A Django-style project: the Celery app is loaded with the package, as Django's docs do it."""

from .celery import app as celery_app

__all__ = ("celery_app",)
