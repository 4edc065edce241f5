"""LineSight training worker: Celery tasks that train, evaluate and export YOLO models offline."""

__version__ = "0.1.0"
