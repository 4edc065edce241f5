"""`python -m linesight_registry`: serve the registry with its settings from the environment."""

from linesight_core.app import run
from linesight_registry.main import create_app
from linesight_registry.settings import RegistrySettings

if __name__ == "__main__":
    settings = RegistrySettings()
    run(create_app(settings), settings)
