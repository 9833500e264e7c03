"""The Celery app, set up the way Django's Celery docs set up ``proj/celery.py``.

Django reads the settings with ``app.config_from_object("django.conf:settings",
namespace="CELERY")`` and finds every installed app's tasks with ``app.autodiscover_tasks()``;
without Django the settings are a plain module and the packages with tasks are named.
"""

from celery import Celery

app = Celery("proj")
app.config_from_object("proj.settings", namespace="CELERY")
app.autodiscover_tasks(["proj"])
