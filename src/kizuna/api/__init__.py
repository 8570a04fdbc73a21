"""Kizuna's REST API (FastAPI): a thin layer over the service functions."""

from kizuna.api.app import create_app

__all__ = ["create_app"]
