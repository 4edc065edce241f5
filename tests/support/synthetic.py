"""The product's synthetic bench photos (linesight_devstack.synthetic), under the name the tests use,
and the photo as the bytes a camera would upload."""

import io

from PIL import Image

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


def jpeg(img: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


__all__ = [
    "CLASSES",
    "COLORS",
    "Placed",
    "draw_scene",
    "jpeg",
    "write_classify_dataset",
    "write_detect_dataset",
    "write_detect_zip",
    "yolo_label_lines",
]
