"""The configured token classifier, loaded the same way by the service at start and by each reader
process (domain/reader_pool.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linesight_ocr.classifier.model import TokenModel

log = logging.getLogger(__name__)


def load_token_model(path: str) -> TokenModel | None:
    """None when none is configured or the file is not there yet (the rules rank until one is trained).
    A file that is there but not a token model raises: the service does not start, and a reader process
    does not read with something else than what was configured."""
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        log.warning("token model %s not found; code candidates are ranked by the rules", file)
        return None
    from linesight_ocr.classifier.model import TokenModel  # scikit-learn only when a model is used

    model = TokenModel.load(file)
    log.info("token model %s loaded (trained on %d reads)", file, model.trained_reads)
    return model
