"""Compatibility name: the Graph directory is the :mod:`mtp_emulator.graph_directory` package (one module per
resource)."""

from __future__ import annotations

from .graph_directory import ROUTES, dispatch, register  # noqa: F401
from .graph_directory.common import GRAPH_AUDIENCES, Ctx, authenticate, json_response, read_body  # noqa: F401
