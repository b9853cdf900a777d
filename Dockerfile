# Fyers Alert Bridge: Python 3.12, pinned requirements, non-root, gunicorn as PID 1.
# The last stage is the production image (`docker build .`); `fake-fyers` is a test double
# used only by docker-compose.yml.

# Pinned by digest (the multi-arch index of python:3.12-slim, as public Dockerfiles of Aug 2026
# carry it; not verifiable from the machine this was written on, see docs/deploy-reference.md). A tag can be
# moved to other bytes; a digest cannot. Refresh deliberately, then rebuild and run the tests:
#   docker buildx imagetools inspect python:3.12-slim   (the "Digest:" line)
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea AS base
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
# The server: gunicorn's asyncio (asgi) worker reads every request whole, headers and body, in its
# event loop, then the Flask app runs on a pool of 64 threads (APP_THREADS in app/asgi.py, where
# docs/benchmarks.md's reasons are): clients that send a byte at a time cost a coroutine each, not a
# thread, so they cannot hold alerts back (tests/test_slow_clients.py). app/gunicorn_conf.py makes
# gunicorn's own lines JSON with a severity on Cloud Run, like the app's. `exec` makes gunicorn PID 1,
# so it gets Cloud Run's SIGTERM and drains within the 10 s grace.
CMD ["sh", "-c", "exec gunicorn --bind \":${PORT}\" --worker-class asgi --workers 1 --timeout 0 --graceful-timeout 8 --no-control-socket -c python:app.gunicorn_conf 'app.asgi:create_asgi_app()'"]
