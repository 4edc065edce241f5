"""What a model version's training photos look like (photo statistics of its dataset version's train
split): the gateway's unusual-photo check compares inspection photos with them."""

from __future__ import annotations

from fastapi import APIRouter

from linesight_core.contracts.registry import TrainingPhotos
from linesight_registry.api.deps import SessionDep, SettingsDep, StoreDep
from linesight_registry.api.models import VersionPath
from linesight_registry.domain import catalog
from linesight_registry.domain.training_photos import training_photos

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get(
    "/{name}/versions/{version}/training-photos",
    response_model=TrainingPhotos,
    summary="The photo statistics of the data a version was trained on",
    description="Brightness, contrast, sharpness and colour of up to 200 photos of the train split of the "
    "dataset version the model version was trained on. Computed on the first request (it decodes those "
    "photos once) and kept with the dataset version, which never changes.",
    responses={404: {"description": "Unknown model or version, or a version with no dataset lineage"}},
)
def get_training_photos(
    name: str, version: VersionPath, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> TrainingPhotos:
    model = catalog.get_model(session, name)
    v = catalog.get_version(session, model, version)
    return training_photos(
        session,
        store,
        settings.bucket("datasets"),
        model.name,
        v,
        max_image_bytes=settings.image_max_bytes,
        max_image_pixels=settings.image_max_pixels,
    )
