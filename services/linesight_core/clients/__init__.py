"""Typed HTTP clients for LineSight's internal APIs, built on the shared contracts."""
