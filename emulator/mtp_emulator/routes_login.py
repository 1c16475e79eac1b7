"""Compatibility name: the token service is the :mod:`mtp_emulator.login` package."""

from __future__ import annotations

from .login import ROUTES, register, seed_login  # noqa: F401
from .login.managed_identity import MI_ROLES  # noqa: F401
