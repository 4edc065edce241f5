"""The product's synthetic bench photos (linesight_devstack.synthetic), under the name the tests use."""

from linesight_devstack.synthetic import (
    CLASSES,
    COLORS,
    Placed,
    draw_scene,
    write_classify_dataset,
    write_detect_dataset,
    write_detect_zip,
    yolo_label_lines,
)

__all__ = [
    "CLASSES",
    "COLORS",
    "Placed",
    "draw_scene",
    "write_classify_dataset",
    "write_detect_dataset",
    "write_detect_zip",
    "yolo_label_lines",
]
