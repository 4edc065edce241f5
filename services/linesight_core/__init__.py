"""LineSight shared library: what every service needs and no service owns."""

__version__ = "0.1.0"
