"""UI settings, read once per process."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings


class UISettings(CoreSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "ui"
    port: int = 8501  # Streamlit
    ops_port: int = 8502  # /health, /ready, /metrics
    # The UI has no gateway credential of its own: every call is made with the signed-in person's
    # session token or personal API key (linesight_ui.signin).
