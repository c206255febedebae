"""The Flask extensions, created once here and bound to the app in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
migrate = Migrate()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
