"""Wake the process that holds a platform's connection when a reply for that platform is waiting.

A reply is stored in the outbox by whichever process made it: the web process that took an agent's
words from Slack, a worker that took over a turn. Only a process holding the platform's sender (the
Telegram poller, the Discord gateway, the Slack Web API client) sends it. Without a notice that process
finds the reply at its next sweep (``bot.delivery.SWEEP_EVERY``); with ``stores.redis_url`` (or
``REDIS_URL``) the storing process publishes the platform's name on Redis and every process holding
that platform looks at its outbox at once.

A notice carries no reply and no id, only the platform: the outbox row is the truth, the notice only
says "look now". A lost notice (Redis restarting, a process reconnecting) costs one sweep's wait, never
a reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.locks import redis_client
from bot.metrics import METRICS

CHANNEL_PREFIX = "rapport:outbox:"
FIRST_RECONNECT_DELAY = 0.5
MAX_RECONNECT_DELAY = 30.0

Wake = Callable[[str], Awaitable[None]]

log = logging.getLogger("rapport.notify")


def channel_of(platform: str) -> str:
    return f"{CHANNEL_PREFIX}{platform}"


class ReplyNotices:
    """One process alone: nobody else to wake. The sweeper still finds every reply."""

    async def due(self, platform: str) -> None:
        """Replies for ``platform`` are waiting in the outbox (this process does not hold it)."""
        return None

    async def listen(self, platforms: Iterable[str], wake: Wake) -> None:
        """Call ``wake(platform)`` whenever another process says replies for one of ``platforms`` are
        waiting; runs until cancelled. Alone, there is nothing to hear."""
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


class RedisReplyNotices(ReplyNotices):
    """Notices over Redis pub/sub: one channel per platform, subscribed to by the processes holding it."""

    def __init__(self, url: str) -> None:
        # The locks' client factory: Heroku's rediss:// URLs need its TLS settings.
        self._redis: Any = redis_client(url)

    async def due(self, platform: str) -> None:
        try:
            await self._redis.publish(channel_of(platform), "due")
        except Exception as error:
            # The reply is stored; the holder's sweeper sends it within seconds. A turn must not fail
            # because a wake-up could not be published.
            METRICS.error("notify", error)
            log.warning("could not publish a reply notice; the sweeper will send it (%s)", type(error).__name__,
                        extra={"platform": platform})

    async def listen(self, platforms: Iterable[str], wake: Wake) -> None:
        channels = {channel_of(p): p for p in platforms}
        if not channels:
            await asyncio.Event().wait()
        delay = FIRST_RECONNECT_DELAY
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                delay = FIRST_RECONNECT_DELAY
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    channel = message.get("channel")
                    platform = channels.get(channel.decode() if isinstance(channel, bytes) else str(channel))
                    if platform is not None:
                        await wake(platform)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                METRICS.error("notify", error)
                log.warning("reply notices lost their Redis connection; reconnecting in %.1fs (%s)", delay,
                            type(error).__name__)
            finally:
                await _close_quietly(pubsub)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY)

    async def close(self) -> None:
        await self._redis.aclose()


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # closing a connection that already broke: nothing left to tell anyone
        log.debug("closing a broken pub/sub connection failed", exc_info=True)


def reply_notices(redis_url: str) -> ReplyNotices:
    """Redis pub/sub notices with a Redis URL; else none (one process, or the sweeper alone)."""
    return RedisReplyNotices(redis_url) if redis_url else ReplyNotices()
