"""LineSight registry: models, versions, aliases, artifacts, datasets, training runs, lineage."""

__version__ = "0.1.0"
