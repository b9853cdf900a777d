"""Operator authentication: `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time.

Cloud Scheduler's job endpoints (`require_admin_or_scheduler`) also take a Google-signed OIDC
token for SCHEDULER_SERVICE_ACCOUNT, so no job has to carry the admin token in its headers;
people keep the admin token. The scheduler's token opens nothing but the jobs.
"""

from __future__ import annotations

import functools

from flask import request

from app.domain.errors import Unauthorized
from app.security import same_secret
from app.web.responses import services


def require_admin(view, scheduler_may_call: bool = False):
    """Refuse the request with 401 unless it carries the admin token (or, for a job, the scheduler's token)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = services().settings.admin_token
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        bearer = scheme.lower() == "bearer"
        if expected and bearer and same_secret(presented.strip(), expected):
            return view(*args, **kwargs)
        scheduler = services().scheduler
        if scheduler_may_call and scheduler is not None and bearer and presented.strip():
            scheduler.verify(presented.strip())  # Unauthorized unless it is the scheduler's token
            return view(*args, **kwargs)
        if scheduler_may_call and scheduler is not None:
            raise Unauthorized("job endpoints need the scheduler's OIDC token or Authorization: Bearer <ADMIN_TOKEN>")
        raise Unauthorized("operator endpoints need Authorization: Bearer <ADMIN_TOKEN>")

    return guarded


def require_admin_or_scheduler(view):
    """For Cloud Scheduler's jobs: the admin token (a person), or Google's OIDC token for the scheduler."""
    return require_admin(view, scheduler_may_call=True)
