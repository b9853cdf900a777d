"""Baseline 1, the serialized set-up: `uvicorn bench.asgi_serialized:app`.

asgiref's WsgiToAsgi runs every WSGI call on one shared thread, so alerts wait in line.
"""

from asgiref.wsgi import WsgiToAsgi

from app import create_app

app = WsgiToAsgi(create_app())
