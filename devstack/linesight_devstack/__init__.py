"""LineSight local stack runner: the compose services as local processes, for machines without Docker and for
tests. `Stack` runs the whole system; `PostgresServer`, `RedisServer`, `S3Server` and `PrometheusServer`
each run one piece of infrastructure and can be used alone."""

from linesight_devstack.ports import DEFAULT_PORT_BASE, free_port, free_port_base, port_map
from linesight_devstack.postgres import PostgresServer
from linesight_devstack.prometheus import PrometheusServer
from linesight_devstack.redis_server import RedisServer
from linesight_devstack.s3 import S3Server
from linesight_devstack.server import StartCancelled, StartError
from linesight_devstack.services import SERVICE_NAMES, StackError
from linesight_devstack.stack import Stack

__all__ = [
    "DEFAULT_PORT_BASE",
    "SERVICE_NAMES",
    "PostgresServer",
    "PrometheusServer",
    "RedisServer",
    "S3Server",
    "Stack",
    "StackError",
    "StartCancelled",
    "StartError",
    "free_port",
    "free_port_base",
    "port_map",
]
