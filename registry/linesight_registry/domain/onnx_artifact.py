"""What an uploaded ONNX file is: read the metadata Ultralytics writes, load it with ONNX Runtime, and
check that its inputs and outputs have the shape of a YOLO detect, segment or classify model."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

import onnx

from linesight_core.errors import Problem
from linesight_core.model_input import DEFAULT_MAX_IMGSZ, ImageSizeError, check_imgsz, parse_imgsz

PROBLEM_TYPE = "https://linesight.dev/problems/invalid-model"
TASKS = ("detect", "classify", "segment")
# Class names of a model with thousands of classes fit easily; a longer value is not Ultralytics' metadata.
MAX_METADATA_VALUE = 1_000_000


@dataclass(frozen=True)
class ArtifactInfo:
    task: str
    imgsz: list[int]  # [height, width]
    class_names: dict[str, str]  # {"0": "screwdriver", ...}
    stride: int | None
    dynamic_batch: bool
    input_name: str
    output_shape: list[int | str]
    end2end: bool
    mask_prototypes: int | None  # segment: prototype masks (32 for Ultralytics' heads); else None
    metadata: dict[str, str]


class InvalidArtifact(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, detail, title="Model artifact rejected", type_=PROBLEM_TYPE)


def _literal(value: str | None, what: str) -> Any:
    if value is None:
        return None
    if len(value) > MAX_METADATA_VALUE:
        raise InvalidArtifact(
            f"The ONNX metadata field '{what}' is {len(value)} characters long; at most {MAX_METADATA_VALUE}."
        )
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidArtifact(
                f"The ONNX metadata field '{what}' cannot be read: {value[:80]!r}."
            ) from None


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    out: list[int | str] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or "?")
    return out


def _imgsz(
    meta: dict[str, str], in_shape: list[Any], *, task: str, max_side: int, stride: int | None
) -> list[int]:
    """The metadata's imgsz, or the fixed input size when the metadata has none; either way bounded and
    consistent with the input, since inference allocates a batch of this size before the first request."""
    raw = meta.get("imgsz")
    try:
        if raw is not None:
            h, w = parse_imgsz(_literal(raw, "imgsz"))
        elif isinstance(in_shape[2], int) and isinstance(in_shape[3], int):
            h, w = in_shape[2], in_shape[3]
        else:
            raise InvalidArtifact(
                "The ONNX metadata has no image size ('imgsz') and the input size is dynamic."
            )
        check_imgsz((h, w), in_shape, task=task, max_side=max_side, stride=stride)
    except ImageSizeError as exc:
        raise InvalidArtifact(str(exc)) from None
    return [h, w]


def inspect_onnx(path: str, *, max_imgsz: int = DEFAULT_MAX_IMGSZ) -> ArtifactInfo:
    """Raises InvalidArtifact with the reason when the file is not a servable YOLO model, or one whose
    image size (`imgsz`, what inference allocates per image) is over `max_imgsz` a side."""
    try:
        model = onnx.load(path, load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - any failure to parse means "not a valid ONNX model"
        raise InvalidArtifact(f"The file is not a valid ONNX model: {str(exc)[:300]}") from None
    meta = {p.key: p.value for p in model.metadata_props}
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        raise InvalidArtifact(f"ONNX Runtime cannot load the model: {str(exc)[:300]}") from None
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    if len(inputs) != 1:
        raise InvalidArtifact(f"A YOLO model has one image input; this one has {len(inputs)}.")
    in_shape = list(inputs[0].shape)
    if len(in_shape) != 4 or in_shape[1] != 3:
        raise InvalidArtifact(f"The input must be [batch, 3, height, width]; it is {in_shape}.")
    dynamic_batch = not isinstance(in_shape[0], int) or in_shape[0] < 1

    task = meta.get("task")
    if task not in TASKS:
        raise InvalidArtifact(
            f"The ONNX metadata has task={task!r}; LineSight serves {', '.join(TASKS)} models exported by "
            "Ultralytics (metadata 'task', 'names', 'imgsz')."
        )
    names_raw = _literal(meta.get("names"), "names")
    if not isinstance(names_raw, dict) or not names_raw:
        raise InvalidArtifact("The ONNX metadata has no class names ('names').")
    try:
        class_names = {str(int(k)): str(v) for k, v in sorted(names_raw.items(), key=lambda kv: int(kv[0]))}
    except (TypeError, ValueError):
        raise InvalidArtifact(
            "The ONNX metadata's class names ('names') must be keyed by class number."
        ) from None
    stride = int(meta["stride"]) if meta.get("stride", "").isdigit() else None
    imgsz = _imgsz(meta, in_shape, task=task, max_side=max_imgsz, stride=stride)
    end2end = meta.get("end2end", "False") == "True"

    if len(outputs) < 1:
        raise InvalidArtifact("The model has no output.")
    out_shape = list(outputs[0].shape)
    nc = len(class_names)
    prototypes = None
    if task == "detect":
        _check_detect(out_shape, nc, end2end, [list(o.shape) for o in outputs])
    elif task == "segment":
        prototypes = _check_segment(out_shape, nc, end2end, [list(o.shape) for o in outputs])
    elif len(out_shape) != 2 or out_shape[1] != nc:
        raise InvalidArtifact(f"A classify output is [batch, {nc}]; it is {out_shape}.")
    return ArtifactInfo(
        task=task,
        imgsz=imgsz,
        class_names=class_names,
        stride=stride,
        dynamic_batch=dynamic_batch,
        input_name=inputs[0].name,
        output_shape=out_shape,
        end2end=end2end,
        mask_prototypes=prototypes,
        metadata=meta,
    )


def _check_detect(out_shape: list[Any], nc: int, end2end: bool, shapes: list[list[Any]]) -> None:
    if len(shapes) == 2 and _looks_like_prototypes(shapes[1]):
        raise InvalidArtifact(
            f"The model has two outputs, {shapes[0]} and {shapes[1]}: boxes with mask coefficients and mask "
            "prototypes, which is a segment model, but its metadata says task='detect'."
        )
    if len(out_shape) != 3:
        raise InvalidArtifact(f"A detect model's output is [batch, 4+classes, anchors]; it is {out_shape}.")
    if end2end:
        if out_shape[2] != 6:
            raise InvalidArtifact(
                f"An end-to-end detect output is [batch, detections, 6]; it is {out_shape}."
            )
    elif out_shape[1] != 4 + nc:
        raise InvalidArtifact(
            f"The detect output has {out_shape[1]} rows; with {nc} classes it should have {4 + nc}."
        )


def _looks_like_prototypes(shape: list[Any]) -> bool:
    return len(shape) == 4 and isinstance(shape[1], int) and shape[1] > 0


def _check_segment(out_shape: list[Any], nc: int, end2end: bool, shapes: list[list[Any]]) -> int:
    """A segment model has two outputs: boxes, class scores and mask coefficients [batch, 4+nc+32,
    anchors] (end-to-end: [batch, detections, 6+32]), and the prototypes [batch, 32, h/4, w/4]. Returns
    the number of prototypes."""
    if len(shapes) != 2:
        raise InvalidArtifact(
            f"A segment model has two outputs (boxes with mask coefficients [batch, 4+{nc}+32, anchors], and "
            f"mask prototypes [batch, 32, height/4, width/4]); this one has {len(shapes)}: {shapes}. "
            + ("A detect model cannot be uploaded as a segment model." if len(shapes) == 1 else "")
        )
    protos = shapes[1]
    if not _looks_like_prototypes(protos):
        raise InvalidArtifact(
            f"A segment model's second output is the mask prototypes [batch, 32, height/4, width/4]; "
            f"it is {protos}."
        )
    nm = int(protos[1])
    if len(out_shape) != 3:
        raise InvalidArtifact(
            f"A segment model's first output is [batch, 4+classes+{nm}, anchors]; it is {out_shape}."
        )
    if end2end:
        if out_shape[2] != 6 + nm:
            raise InvalidArtifact(
                f"An end-to-end segment output is [batch, detections, {6 + nm}]; it is {out_shape}."
            )
    elif out_shape[1] != 4 + nc + nm:
        raise InvalidArtifact(
            f"The segment output has {out_shape[1]} rows; with {nc} classes and {nm} mask prototypes it "
            f"should have {4 + nc + nm}."
        )
    return nm


def check_claims(
    info: ArtifactInfo,
    *,
    task: str | None,
    class_names: list[str] | dict[str, str] | None,
    imgsz: list[int] | None,
) -> None:
    """What the uploader says must match what the file says."""
    if task and task != info.task:
        raise InvalidArtifact(f"The upload says task={task!r} but the model is a {info.task} model.")
    if class_names is not None:
        claimed = (
            {str(i): n for i, n in enumerate(class_names)}
            if isinstance(class_names, list)
            else {str(k): str(v) for k, v in class_names.items()}
        )
        if claimed != info.class_names:
            raise InvalidArtifact(
                f"The upload's class names {list(claimed.values())} differ from the model's "
                f"{list(info.class_names.values())}."
            )
    if imgsz is not None and list(imgsz) != info.imgsz:
        raise InvalidArtifact(f"The upload says imgsz={imgsz} but the model was exported at {info.imgsz}.")
