"""Beyond one process: replicas publish rows to a Redis stream, one consumer writes them."""

from __future__ import annotations

from .consumer import ConsumerStatistics, RedisConsumer
from .redis import RedisStream, StreamPublisher

__all__ = ["ConsumerStatistics", "RedisConsumer", "RedisStream", "StreamPublisher"]
