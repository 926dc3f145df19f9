# The web app in a container, without TensorFlow (the app runs the converted model on LiteRT):
#   docker build -t fer-app . && docker run --rm -p 8501:8501 fer-app      (then open http://localhost:8501)
# It copies only what the app needs (.dockerignore keeps secrets, data, runs and environments out of the
# build context) and runs as an unprivileged user. tests/test_docker.py builds the same file set into a fresh
# virtual environment and starts the app from it, where no Docker daemon is available. See docs/web_app.md.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 fer
WORKDIR /srv/fer
COPY app/requirements.txt app/requirements.txt
RUN pip install --no-cache-dir -r app/requirements.txt
COPY fer_utils fer_utils
COPY models models
COPY app app
COPY .streamlit/config.toml .streamlit/config.toml
ENV PYTHONPATH=/srv/fer
USER fer
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app/streamlit_app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
