# Fyers Alert Bridge: Python 3.12, pinned requirements, non-root, gunicorn as PID 1.
# The last stage is the production image (`docker build .`); `fake-fyers` is a test double
# used only by docker-compose.yml.

FROM python:3.12-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
COPY requirements.txt .
# Every requirement ships a wheel for CPython 3.12: no compiler enters the image.
RUN pip install --no-cache-dir --only-binary=:all: -r requirements.txt \
    && useradd --create-home --uid 10001 bridge

FROM base AS fake-fyers
COPY tests/__init__.py tests/__init__.py
COPY tests/fakes tests/fakes
USER 10001
CMD ["python", "-m", "tests.fakes.fake_fyers", "--host", "0.0.0.0", "--port", "9000"]

FROM base AS app
COPY main.py ./
COPY app ./app
USER 10001
ENV PORT=8080 \
    STATE_DIR=/tmp/bridge
EXPOSE 8080
# The server chosen in docs/benchmarks.md: gunicorn, one process, 32 threads (20 alerts at
# one bar close run in parallel and share their quote calls; the state in GCS is shared anyway). `exec` makes gunicorn PID 1, so it
# gets Cloud Run's SIGTERM and drains within the 10 s grace.
CMD ["sh", "-c", "exec gunicorn --bind \":${PORT}\" --worker-class gthread --workers 1 --threads 32 --timeout 0 --graceful-timeout 8 --no-control-socket 'app:create_app()'"]
