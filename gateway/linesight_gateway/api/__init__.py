"""Gateway HTTP routers: HTTP in, HTTP out; the logic lives in domain/."""
