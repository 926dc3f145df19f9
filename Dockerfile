# The web app in a container: docker build -t fer-app . && docker run --network host fer-app
# (then open http://localhost:8501). See docs/web_app.md for live video (WebRTC) behind NAT.
FROM python:3.11-slim
WORKDIR /srv/fer
COPY app/requirements.txt app/requirements.txt
RUN pip install --no-cache-dir -r app/requirements.txt
COPY fer_utils fer_utils
COPY models models
COPY app app
COPY .streamlit .streamlit
ENV FER_WEBRTC_ICE=local \
    TF_CPP_MIN_LOG_LEVEL=2
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app/streamlit_app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
