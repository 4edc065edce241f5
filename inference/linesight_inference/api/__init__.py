"""HTTP routers of the inference service."""
