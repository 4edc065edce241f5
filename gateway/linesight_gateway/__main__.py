"""`python -m linesight_gateway`: serve the gateway with its settings from the environment."""

from linesight_core.app import run
from linesight_gateway.main import create_app
from linesight_gateway.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    run(create_app(settings), settings)
