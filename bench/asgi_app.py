"""uvicorn + a2wsgi: `uvicorn bench.asgi_app:app`; WSGI calls run on a pool of 16 threads."""

from a2wsgi import WSGIMiddleware

from app import create_app

app = WSGIMiddleware(create_app(), workers=16)
