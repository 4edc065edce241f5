"""The token classifier on reads of generated labels by the real Tesseract and zxing-cpp: labelled reads
in the export format, `train` and `evaluate` commands, the model file the service loads from
LINESIGHT_OCR_TOKEN_MODEL and uses to rank candidates, and files it refuses to load."""

import io
import json
import random

import joblib
import pytest
from fastapi.testclient import TestClient

from linesight_ocr.classifier.__main__ import main as classifier_cli
from linesight_ocr.classifier.evaluation import generate_reads, labelled_read
from linesight_ocr.classifier.features import words_from_tokens
from linesight_ocr.classifier.model import TokenModel, TokenModelInvalid, iter_export
from linesight_ocr.domain.extraction import extract_codes
from linesight_ocr.domain.read_label import ReadOptions
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.main import create_app
from linesight_ocr.settings import OcrSettings
from linesight_ocr.synthetic import random_spec, render

pytestmark = pytest.mark.integration

TOKEN = "ocr-test-token"
OPTIONS = ReadOptions(languages=["eng"], tesseract_timeout=60, deskew=False, review_below=0.8)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Twelve labelled reads of generated labels, as the gateway's export writes them."""
    path = tmp_path_factory.mktemp("export") / "reads.jsonl"
    reads = list(generate_reads(12, 5, load_profiles(), OPTIONS))
    path.write_text("".join(json.dumps(r) + "\n" for r in reads))
    return path


def test_generated_reads_are_in_the_export_format(export):
    reads = list(iter_export(export))
    assert len(reads) == 12
    for read in reads:
        assert {"read_id", "status", "vendor", "codes", "tokens", "image_width", "image_height"} <= set(read)
        assert read["status"] in ("approved", "corrected")
        labels = {t["label"] for t in read["tokens"]}
        assert labels <= {"serial", "part_number", "model", "mac", "ean13", "key", "other"}
    tokens = [t for r in reads for t in r["tokens"]]
    assert any(t["label"] == "serial" for t in tokens) and any(t["label"] == "key" for t in tokens)
    assert any(t["text"] == "S/N:" and t["label"] == "key" for t in tokens)


def test_train_save_load_and_rank(export, tmp_path):
    model_path = tmp_path / "model.joblib"
    assert classifier_cli(["train", "--export", str(export), "--out", str(model_path)]) == 0
    model = TokenModel.load(model_path)
    assert model.trained_reads == 12

    # The classifier knows a serial's token when it sees one, also without its key.
    spec = random_spec(random.Random(42), "lenovo")
    read = labelled_read("clean", spec, render(spec), load_profiles(), OPTIONS)
    words = words_from_tokens(read["tokens"])
    vendor = load_profiles().get(read["vendor"])
    scores = model.scores(words, vendor)
    truth = {c["type"]: c["value"] for c in read["codes"]}
    serial_word = next(w for w in words if w.text == truth["serial"])
    assert max(scores[id(serial_word)], key=scores[id(serial_word)].get) == "serial"
    codes = {c.type: c.value for c in extract_codes(words, vendor, scores) if c.valid}
    assert codes["serial"] == truth["serial"] and codes["mac"] == truth["mac"]
    keyless = [w for w in words if w.text not in ("S/N:", "S/N")]
    found = [c for c in extract_codes(keyless, vendor, model.scores(keyless, vendor)) if c.type == "serial"]
    assert [c.value for c in found] == [truth["serial"]]
    assert found[0].key is None and found[0].confidence < 0.8  # found without its key: reviewed


def test_evaluate_prints_rules_against_the_model(export, tmp_path, capsys):
    model_path = tmp_path / "model.joblib"
    classifier_cli(["train", "--export", str(export), "--out", str(model_path)])
    capsys.readouterr()
    assert classifier_cli(["evaluate", "--model", str(model_path), "--export", str(export)]) == 0
    out = capsys.readouterr().out
    assert "held-out reads: 12" in out
    serial = next(line for line in out.splitlines() if line.startswith("serial"))
    assert len(serial.split()) == 5


def _png_label() -> bytes:
    out = io.BytesIO()
    render(random_spec(random.Random(6), "lenovo")).save(out, format="PNG")
    return out.getvalue()


def test_the_service_loads_the_configured_model_and_refuses_other_pickles(export, tmp_path):
    model_path = tmp_path / "model.joblib"
    classifier_cli(["train", "--export", str(export), "--out", str(model_path)])
    settings = OcrSettings(service_token=TOKEN, log_format="console", ocr_token_model=str(model_path))
    app = create_app(settings)
    assert isinstance(app.state.token_model, TokenModel)
    with TestClient(app) as client:
        resp = client.post(
            "/v1/parse-label",
            headers={"Authorization": f"Bearer {TOKEN}"},
            files={"image": ("label.png", _png_label(), "image/png")},
        )
        assert resp.status_code == 200, resp.text
        assert {c["type"] for c in resp.json()["codes"]} >= {"serial", "part_number", "mac", "ean13"}

    # Not there (yet): the rules rank. Some other pickle: the service does not start on it.
    missing = OcrSettings(service_token=TOKEN, log_format="console", ocr_token_model=str(tmp_path / "none"))
    assert create_app(missing).state.token_model is None
    other = tmp_path / "other.joblib"
    joblib.dump({"format": "something-else"}, other)
    with pytest.raises(TokenModelInvalid):
        create_app(OcrSettings(service_token=TOKEN, log_format="console", ocr_token_model=str(other)))
