"""UI settings, read once per process."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings


class UISettings(CoreSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "ui"
    port: int = 8501  # Streamlit
    ops_port: int = 8502  # /health, /ready, /metrics

    # The gateway API key the UI calls with (X-API-Key). The UI talks to the gateway only.
    ui_api_key: SecretStr = SecretStr("")
