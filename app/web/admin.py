"""Operator authentication: `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time."""

from __future__ import annotations

import functools

from flask import request

from app.domain.errors import Unauthorized
from app.security import same_secret
from app.web.responses import services


def require_admin(view):
    """Refuse the request with 401 unless it carries the admin token."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = services().settings.admin_token
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if (
            not expected
            or scheme.lower() != "bearer"
            or not same_secret(presented.strip(), expected)
        ):
            raise Unauthorized("operator endpoints need Authorization: Bearer <ADMIN_TOKEN>")
        return view(*args, **kwargs)

    return guarded
