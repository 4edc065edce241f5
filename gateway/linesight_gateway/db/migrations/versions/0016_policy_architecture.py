"""Station training policies name no architecture unless one was chosen: an empty one trains the station
mode's own model (linesight_core.contracts.training.DEFAULT_ARCHITECTURE). Until now a policy left at its
default stored the detect model's `yolov8n.yaml` whatever the mode, and a classify or segment station's
automatic run was refused by the registry (a detect model for a classify or segment dataset). Those
policies get the empty value; a detect station's, or a chosen architecture, is left as it is.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE gateway.stations
        SET training = jsonb_set(training, '{architecture}', 'null'::jsonb)
        WHERE mode <> 'detect' AND training->>'architecture' = 'yolov8n.yaml'
        """
    )


def downgrade() -> None:
    # An empty architecture is what the earlier code stored as its default.
    op.execute(
        """
        UPDATE gateway.stations
        SET training = jsonb_set(training, '{architecture}', '"yolov8n.yaml"'::jsonb)
        WHERE training ? 'architecture' AND training->'architecture' = 'null'::jsonb
        """
    )
