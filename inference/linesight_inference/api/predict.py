"""Prediction endpoints: one image, or several with the same model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from linesight_core.contracts.inference import Prediction, PredictParams
from linesight_core.errors import Problem
from linesight_core.images import ImageRejected
from linesight_inference.domain.prediction import Predictor

router = APIRouter(prefix="/v1", tags=["predict"])

_PREDICTIONS = TypeAdapter(list[Prediction])
_FIELDS = tuple(PredictParams.model_fields)

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown model, unknown version, or no version under the alias (problem+json)"},
    413: {"description": "The image is over the byte or pixel limit"},
    415: {"description": "The image format is not accepted"},
    422: {"description": "Not a readable image, or invalid parameters (`errors` lists them)"},
    502: {"description": "The model's artifact cannot be fetched or loaded"},
    503: {
        "description": "The registry cannot be reached, or the model's queue (or the replay gate) is full "
        "(Retry-After)"
    },
}
PARAMS_NOTE = (
    " Parameters (`model`, `alias` or `version`, `conf`, `iou`, `max_det`, `top_k`, `priority`) are multipart"
    " form fields"
    " or query parameters; a form field wins over a query parameter of the same name."
)
# A raw body spares the multipart framing and its spooled temp file on both sides (the gateway sends so).
RAW_TYPES = ("image/jpeg", "image/png")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
RAW_BODY = {
    "description": "The image itself as the body (`Content-Type: image/jpeg` or `image/png`), parameters "
    "in the query string; or a multipart form with the image in the `image` field.",
    "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in RAW_TYPES},
}


async def predict_params(
    request: Request,
    model: Annotated[str | None, Form(description="Model name in the registry (required)")] = None,
    alias: Annotated[str | None, Form(description="Alias to serve (default production)")] = None,
    version: Annotated[int | None, Form(description="Explicit version instead of an alias")] = None,
    conf: Annotated[float | None, Form(description="Detect, segment: minimum confidence (0.25)")] = None,
    iou: Annotated[float | None, Form(description="Detect, segment: NMS IoU threshold (0.7)")] = None,
    max_det: Annotated[
        int | None, Form(description="Detect, segment: most detections per image (300)")
    ] = None,
    top_k: Annotated[int | None, Form(description="Classify: classes returned (5)")] = None,
    priority: Annotated[str | None, Form(description="live (default) or replay")] = None,
) -> PredictParams:
    form = {"model": model, "alias": alias, "version": version, "conf": conf, "iou": iou}
    form |= {"max_det": max_det, "top_k": top_k, "priority": priority}
    given: dict[str, Any] = {k: v for k, v in form.items() if v is not None}
    where = {k: "body" for k in given}
    for key in _FIELDS:
        if key not in given and key in request.query_params:
            given[key] = request.query_params[key]
            where[key] = "query"
    try:
        return PredictParams.model_validate(given)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            field = str(err["loc"][0]) if err["loc"] else ""
            errors.append({**err, "loc": (where.get(field, "body"), *err["loc"])})
        raise RequestValidationError(errors) from None


async def _predictor(request: Request) -> Predictor:
    return request.app.state.predictor


async def _read(upload: UploadFile, max_bytes: int) -> bytes:
    # Refuse an oversized file before reading it into memory (the upload itself is spooled to disk).
    if upload.size is not None and upload.size > max_bytes:
        raise ImageRejected(413, f"The image is {upload.size} bytes; the limit is {max_bytes} bytes.")
    return await upload.read()


def _json(content: bytes) -> Response:
    return Response(content, media_type="application/json")


ParamsDep = Annotated[PredictParams, Depends(predict_params)]
PredictorDep = Annotated[Predictor, Depends(_predictor)]


@router.post(
    "/predict",
    response_model=Prediction,
    summary="Predict on one image",
    description="Detections (detect models), instances with polygon, area and length (segment models) or "
    "top-k classes (classify models) of one image, with the model "
    "version that answered and the time spent in each stage. The image comes as a multipart `image` field, "
    "or as the raw body with `Content-Type: image/jpeg` or `image/png` (parameters then in the query)."
    + PARAMS_NOTE,
    responses=ERRORS,
    openapi_extra={"requestBody": RAW_BODY},
)
async def predict(
    request: Request,
    params: ParamsDep,
    predictor: PredictorDep,
    image: Annotated[
        UploadFile | None, File(description="JPEG, PNG, WebP, BMP or TIFF (or send the image as the body)")
    ] = None,
) -> Response:
    if image is not None:
        data = await _read(image, predictor.limits.max_bytes)
    else:
        data = await _raw_body(request, predictor.limits.max_bytes)
    [answer] = await predictor.predict([data], params)
    return _json(answer.__pydantic_serializer__.to_json(answer))


async def _raw_body(request: Request, max_bytes: int) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in RAW_TYPES:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:  # refused before the body is read
            raise ImageRejected(413, f"The image is {declared} bytes; the limit is {max_bytes} bytes.")
        return await request.body()  # the body limit middleware bounds what this reads
    if not media or media in FORM_TYPES:
        missing = {"type": "missing", "loc": ("body", "image"), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    raise Problem(
        415,
        f"Content-Type {media} is not accepted. Send the image as the body with Content-Type "
        f"{' or '.join(RAW_TYPES)}, or as the `image` field of a multipart/form-data form.",
        title="Unsupported media type",
    )


@router.post(
    "/predict/batch",
    response_model=list[Prediction],
    summary="Predict on several images with one model",
    description="One answer per image, in the order the images were sent. The images join the model's "
    "micro-batches like single requests do. A bad image fails the request; the detail names it "
    "(`images[2]: ...`)." + PARAMS_NOTE,
    responses=ERRORS,
)
async def predict_batch(
    request: Request,
    params: ParamsDep,
    predictor: PredictorDep,
    images: Annotated[list[UploadFile], File(description="One or more images, as repeated `images` fields")],
) -> Response:
    limit = request.app.state.settings.max_images_per_request
    if len(images) > limit:
        raise Problem(422, f"{len(images)} images were sent; at most {limit} are accepted per request.")
    data = [await _read(upload, predictor.limits.max_bytes) for upload in images]
    return _json(_PREDICTIONS.dump_json(await predictor.predict(data, params)))
