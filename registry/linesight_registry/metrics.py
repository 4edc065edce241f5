"""The registry's Prometheus metrics of datasets and model aliases (training runs:
domain/training_metrics.py). Dataset and model names are bounded by configuration (one per station or
product); sources and aliases are fixed sets."""

from __future__ import annotations

from prometheus_client import Counter

DATASET_ITEMS = Counter(
    "linesight_registry_dataset_items_added_total",
    "Images added to a dataset (a repeated image only relabels its item and is not counted), by dataset "
    "and source (upload, import, feedback, ...).",
    ["dataset", "source"],
)
DATASET_VERSIONS = Counter(
    "linesight_registry_dataset_versions_total",
    "Dataset versions cut (frozen manifests), by dataset.",
    ["dataset"],
)
ALIAS_MOVES = Counter(
    "linesight_registry_alias_moves_total",
    "Aliases pointed at a version (by a person or a training run's decision), by model and alias; a move "
    "of production is a promotion.",
    ["model", "alias"],
)
