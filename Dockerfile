# Production image: Python 3.12, pinned requirements, non-root, gunicorn as PID 1.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    STATE_DIR=/tmp/bridge

WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --create-home --uid 10001 bridge

COPY main.py ./
COPY app ./app

USER bridge
# gunicorn (exec: PID 1, receives SIGTERM); threads serve concurrent alerts in parallel.
CMD exec gunicorn --bind ":$PORT" --worker-class gthread --workers 1 --threads 16 --timeout 0 --graceful-timeout 8 --no-control-socket "app:create_app()"
