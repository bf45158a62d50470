"""Running salesync on more than one process: Celery workers on Redis, shared limits."""
