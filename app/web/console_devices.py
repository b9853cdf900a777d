"""/console/devices: the phones remembered at the console login ("Trusted devices"), each revocable at once."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from app.domain.contracts import IST
from app.logs import log_event
from app.web import console_security
from app.web.responses import services

bp = Blueprint("console_devices", __name__, template_folder="templates")
bp.after_request(console_security.protect)
log = logging.getLogger(__name__)


@bp.get("/console/devices")
def devices():
    """The remembered devices, newest first, each with when it was remembered and until when."""
    if not console_security.session_live():
        return redirect(console_security.login_then("/console/devices"), code=303)
    sessions = current_app.extensions["console_sessions"]
    listed = [
        {
            "id": device.device_id,
            "name": device.name,
            "since": device.opened_at.astimezone(IST),
            "until": device.ends_at.astimezone(IST),
            "this": device.device_id == sessions.device_id(session.get("sid")),
        }
        for device in sessions.trusted_devices()
    ]
    return render_template(
        "console/devices.html",
        devices=listed,
        csrf=session.get("csrf"),
        revoked=request.args.get("revoked") == "1",
        remember_days=services().settings.console_remember_days,
    )


@bp.post("/console/devices/revoke")
def revoke():
    """End a remembered device's session on every instance; its cookie is refused from now on."""
    console_security.require_session(check_csrf=True)
    device_id = request.form.get("device_id", "")
    sessions = current_app.extensions["console_sessions"]
    own = device_id == sessions.device_id(session.get("sid"))
    if sessions.revoke(device_id):
        console_security.audit("revoke_device", {"device": device_id[:12]})
        log_event(log, logging.WARNING, "console_device_revoked", "a remembered console device was revoked")
    if own:  # this phone's own session is gone: back to the login
        session.clear()
        return redirect(url_for("console.login_form"), code=303)
    return redirect(url_for("console_devices.devices", revoked=1), code=303)
