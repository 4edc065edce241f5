"""Tiny YOLO-shaped ONNX files made with onnx's helper API in milliseconds: for tests about what the
registry and inference accept (metadata, input shapes), where the weights do not matter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Dim = int | str


def yolo_onnx(
    path: Path,
    *,
    task: str = "detect",
    height: Dim = "height",
    width: Dim = "width",
    imgsz: str | None = "[160, 160]",
    names: str = "{0: 'part'}",
    stride: str | None = "32",
    classes: int = 1,
    weight: float = 0.1,
) -> Path:
    """A model with the inputs, outputs and metadata of an Ultralytics export. A detect model is one 1x1
    convolution to 4+1 rows ([batch, 5, anchors], one class); a segment model adds 32 mask coefficients
    to those rows and a second output of 32 prototypes at a quarter of the input size; a classify model
    averages the colours into three class scores. `height`/`width` as ints make the input fixed;
    `imgsz=None` leaves it out. A detect model with `classes` rows of scores and `weight=0.0` finds
    nothing in any photo."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, height, width])
    if task == "detect":
        rows = 4 + classes
        kernel = numpy_helper.from_array(np.full((rows, 3, 1, 1), weight, dtype=np.float32), "w")
        shape = numpy_helper.from_array(np.array([0, rows, -1], dtype=np.int64), "shape")
        nodes = [
            helper.make_node("Conv", ["images", "w"], ["conv"]),
            helper.make_node("Reshape", ["conv", "shape"], ["output0"]),
        ]
        out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", rows, "anchors"])
        inits = [kernel, shape]
    elif task == "segment":
        rows = 5 + 32
        seg_w = numpy_helper.from_array(np.full((rows, 3, 1, 1), 0.1, dtype=np.float32), "w")
        proto_w = numpy_helper.from_array(np.full((32, 3, 1, 1), 0.1, dtype=np.float32), "pw")
        shape = numpy_helper.from_array(np.array([0, rows, -1], dtype=np.int64), "shape")
        nodes = [
            helper.make_node("Conv", ["images", "w"], ["conv"]),
            helper.make_node("Reshape", ["conv", "shape"], ["output0"]),
            helper.make_node("Conv", ["images", "pw"], ["pconv"], strides=[4, 4]),
            helper.make_node("Identity", ["pconv"], ["output1"]),
        ]
        out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", rows, "anchors"])
        protos = helper.make_tensor_value_info("output1", TensorProto.FLOAT, ["batch", 32, "ph", "pw"])
        graph = helper.make_graph(nodes, "tiny", [x], [out, protos], initializer=[seg_w, proto_w, shape])
        return _save(graph, path, task=task, names=names, imgsz=imgsz, stride=stride)
    else:
        nodes = [
            helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["output0"]),
        ]
        out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 3])
        inits = []
        names = "{0: 'ok', 1: 'scratch', 2: 'dent'}" if names == "{0: 'part'}" else names
    graph = helper.make_graph(nodes, "tiny", [x], [out], initializer=inits)
    return _save(graph, path, task=task, names=names, imgsz=imgsz, stride=stride)


def _save(
    graph: onnx.GraphProto, path: Path, *, task: str, names: str, imgsz: str | None, stride: str | None
) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"task": task, "names": names, "imgsz": imgsz, "stride": stride, "batch": "1"}
    for key, value in meta.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def with_metadata(src: Path, out: Path, **props: str) -> Path:
    """A copy of an ONNX file with metadata fields set (added or replaced): new bytes, so a new registry
    version. The same weights under other `names` make a model whose labels are mixed up."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key in props:
            prop.value = props.pop(prop.key)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(out))
    return out
