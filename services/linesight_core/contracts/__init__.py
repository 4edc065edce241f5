"""Pydantic contracts the services exchange over HTTP. A service never imports another's package."""
