"""`python -m linesight_inference`: serve the inference API with its settings from the environment."""

from linesight_core.app import run
from linesight_inference.main import create_app
from linesight_inference.settings import InferenceSettings

if __name__ == "__main__":
    settings = InferenceSettings()
    run(create_app(settings), settings)
