"""LineSight gateway: the public REST API, API keys and roles, stations, inspections, feedback, audit."""

__version__ = "0.1.0"
