"""The project's settings, in Django's style: Celery's are upper-case and prefixed ``CELERY_``.

In a Django project these lines go in ``settings.py`` as they are.
"""

import os

CELERY_BROKER_TRANSPORT = "vedette_celery:Transport"
CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]  # redis-sentinel://host1,host2,host3/service/0
CELERY_RESULT_BACKEND = os.environ["CELERY_RESULT_BACKEND"]  # the same, another database
