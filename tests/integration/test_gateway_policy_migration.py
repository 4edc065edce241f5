"""Gateway migration 0016 on a real Postgres: a classify or segment station whose training policy was
stored with the old default (the detect model `yolov8n.yaml`) gets an empty architecture, which trains
the mode's own model; a detect station's, or a chosen architecture, is kept. Its downgrade gives the old
default back."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

import linesight_gateway
from linesight_core.db import make_engine
from tests.integration.conftest import service_database

MIGRATIONS = Path(linesight_gateway.__file__).parent / "db" / "migrations"


def migrate(conn, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = "gateway"
    (command.downgrade if down else command.upgrade)(cfg, revision)
    conn.commit()


def test_old_default_architectures_of_classify_and_segment_policies_are_emptied(
    postgres_url, redis_url, s3_env
):
    with service_database(postgres_url, redis_url, s3_env) as env:
        engine = make_engine(env["LINESIGHT_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                conn.execute(text('CREATE SCHEMA IF NOT EXISTS "gateway"'))
                conn.commit()
                migrate(conn, "0015")
                rows = {
                    "seg-old": ("segment", "yolov8n.yaml"),
                    "cls-old": ("classify", "yolov8n.yaml"),
                    "det-old": ("detect", "yolov8n.yaml"),
                    "seg-chosen": ("segment", "yolo11n-seg.yaml"),
                }
                for name, (mode, arch) in rows.items():
                    conn.execute(
                        text(
                            "INSERT INTO gateway.stations (id, name, mode, model_name, training) "
                            "VALUES (gen_random_uuid(), :n, :m, 'x', CAST(:t AS jsonb))"
                        ),
                        {"n": name, "m": mode, "t": json.dumps({"architecture": arch, "epochs": 9})},
                    )
                conn.commit()

                migrate(conn, "0016")
                after = dict(conn.execute(text("SELECT name, training FROM gateway.stations")).all())
                assert after["seg-old"] == {"architecture": None, "epochs": 9}
                assert after["cls-old"] == {"architecture": None, "epochs": 9}
                assert after["det-old"]["architecture"] == "yolov8n.yaml"
                assert after["seg-chosen"]["architecture"] == "yolo11n-seg.yaml"

                migrate(conn, "0015", down=True)
                before = dict(conn.execute(text("SELECT name, training FROM gateway.stations")).all())
                assert {n: t["architecture"] for n, t in before.items()} == {
                    n: a for n, (_, a) in rows.items()
                }
        finally:
            engine.dispose()
