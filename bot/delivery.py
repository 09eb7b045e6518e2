"""Between the platforms and the engine: messages in, replies out, exactly once whatever fails.

```
adapter ─► receive: inbox row committed ─► (adapter acknowledges the platform)
           └─► background: engine.run_queue(conversation) ─► outbox rows ─► deliver ─► adapter.send
sweeper (every few seconds): queued turns nobody runs (a process died) · replies not yet accepted
notice (bot/notify.py): a reply stored for a platform another process holds wakes that process now
```

A reply is marked delivered only when the platform accepted it; a transient failure (a 502, a
timeout, a 429) is retried with growing waits, honouring ``Retry-After``; a permanent one (the
channel is gone) is logged and set aside. Within a conversation replies go out in order: a reply
that could not be sent holds back the ones after it.

A sender returns the platform's id of the message it posted; the outbox keeps it with the reply, so an
emoji reaction on that message (``Feedback.reacted_to``) maps back to the customer message the reply
answered (:meth:`Delivery.feedback`). A reaction on any other message is dropped there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from bot.engine import Engine
from bot.locks import ConversationBusy
from bot.errors import DeliveryFailed
from bot.metrics import METRICS
from bot.notify import ReplyNotices
from bot.store.inbox import Arrival
from bot.store.outbox import SEND_LEASE, Outbox, PendingReply, reply_key, with_key
from bot.types import ConversationKey, Feedback, Inbound, Reply

# Delivers one reply; returns the platform's id of the (first) message it posted, when it has one.
Send = Callable[[Reply], Awaitable[str | None]]

SWEEP_EVERY = 2.0  # seconds between looks for orphaned turns and replies due for another attempt
MAX_BACKOFF = timedelta(minutes=5)
STOP_GRACE = 10.0  # seconds a stopping process gives its running turns to finish

log = logging.getLogger("rapport.delivery")


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … after the 1st, 2nd, 3rd failed attempt, at most five minutes."""
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class ReplyPoster:
    """The outbox and the platforms' ``send``: stores a reply, then delivers what is due, in order.

    Built before the engine, so the agents' desk (which the engine holds) can post through it and
    ``Delivery`` (which holds the engine) can share it: no object is wired after construction."""

    def __init__(self, outbox: Outbox, owner: str, senders: Mapping[str, Send] | None = None,
                 notices: ReplyNotices | None = None) -> None:
        self.outbox = outbox
        self.owner = owner  # who holds a lease on an outbox row: this process
        self._senders: dict[str, Send] = dict(senders or {})
        # Wakes the process holding a platform this one does not (see bot/notify.py).
        self.notices = notices or ReplyNotices()

    @property
    def platforms(self) -> set[str]:
        """The platforms this process sends for."""
        return set(self._senders)

    def add_sender(self, platform: str, send: Send) -> None:
        """Built up front by the composition root: one per platform this process holds."""
        self._senders[platform] = send

    async def send(self, reply: Reply) -> None:
        """Deliver a reply that is not a turn's (the agents' desk): stored first, then sent like any
        other. A platform this process does not hold is sent by the process that does, woken by a
        notice (or at its next sweep)."""
        reply = with_key(reply)
        await self.outbox.add(reply)
        await self.deliver(reply.conversation)

    async def deliver(self, conversation: ConversationKey | None = None) -> int:
        """Send every due reply (of one conversation, or of every platform this process holds), in
        order; returns how many the platforms accepted."""
        if conversation is not None and conversation.platform not in self._senders:
            # Another process holds this platform's connection: wake it rather than leave the reply
            # waiting for its next sweep.
            await self.notices.due(conversation.platform)
            return 0
        platforms = {conversation.platform} if conversation is not None else set(self._senders)
        if not platforms:
            return 0
        sent = 0
        held_back: set[str] = set()  # conversations whose earlier reply did not get through
        for key, where in await self.outbox.due(platforms, conversation):
            if where in held_back:
                continue
            pending = await self.outbox.lease(key, self.owner)
            if pending is None:
                held_back.add(where)  # being sent elsewhere, or not due: what follows must wait
                continue
            if await self._send(pending):
                sent += 1
            else:
                held_back.add(where)
        return sent

    async def _send(self, pending: PendingReply) -> bool:
        reply = pending.reply
        platform = reply.conversation.platform
        send = self._senders[platform]
        ids = {"platform": reply.conversation.platform, "delivery_key": reply.delivery_key, "attempt": pending.attempts}
        keeper = asyncio.create_task(self._keep_lease(pending), name="outbox-lease")
        try:
            sent_as = await send(reply)
        except DeliveryFailed as failure:
            METRICS.delivery_failed(platform, "rejected" if failure.permanent
                                    else "rate_limited" if failure.retry_after else "unavailable")
            if failure.permanent:
                log.error("the platform refused a reply for good; set aside", extra={**ids, "error": failure.message[:80]})
                await self.outbox.give_up(pending, failure.message)
                return False
            wait = timedelta(seconds=failure.retry_after) if failure.retry_after else backoff(pending.attempts)
            await self._retry(pending, wait, failure.message, ids)
            return False
        except Exception as error:  # an SDK error we did not classify: assume the network, and retry
            METRICS.delivery_failed(platform, "error")
            METRICS.error("delivery", error)
            await self._retry(pending, backoff(pending.attempts), type(error).__name__, ids)
            return False
        finally:
            keeper.cancel()
        await self.outbox.delivered(pending, sent_as or "")
        METRICS.delivered(platform)
        return True

    async def _keep_lease(self, pending: PendingReply) -> None:
        while True:
            await asyncio.sleep(SEND_LEASE.total_seconds() / 3)
            await self.outbox.renew(pending)

    async def _retry(self, pending: PendingReply, wait: timedelta, error: str, ids: dict[str, object]) -> None:
        if await self.outbox.retry_later(pending, wait, error):
            log.warning("a reply was not accepted; retrying in %.0fs", wait.total_seconds(), extra=ids)
        else:
            log.error("a reply was not accepted after every attempt; set aside", extra=ids)


class Delivery:
    """Receives messages for the engine and delivers its replies through the ``ReplyPoster``."""

    def __init__(self, engine: Engine, poster: ReplyPoster) -> None:
        self._engine = engine
        self._outbox = poster.outbox
        self.poster = poster
        self._running: set[str] = set()  # conversations with a queue run in this process now
        self._again: set[str] = set()  # ... and a message that arrived during it
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._listeners: list[asyncio.Task[None]] = []  # hear other processes' reply notices, then deliver
        self._noticed = asyncio.Event()

    @property
    def owner(self) -> str:
        return self.poster.owner

    def add_sender(self, platform: str, send: Send) -> None:
        """Built up front by the composition root: one per platform this process holds."""
        self.poster.add_sender(platform, send)

    # --- in: the handler every adapter holds ------------------------------------------------------

    async def receive(self, inbound: Inbound) -> Reply | None:
        """Store the message and return at once (the adapter may acknowledge the platform now); its
        turn runs and its reply is sent in the background. A store failure raises: the platform must
        then hear a failure and redeliver. Always returns None: replies go out through the outbox."""
        arrival = await self._engine.receive(inbound)
        if arrival is Arrival.FINISHED:
            # A redelivery of an answered message: resend its reply only if it never got through.
            await self._outbox.hurry(reply_key(inbound.platform, inbound.message_id))
            self._spawn(self.deliver(inbound.conversation))
        else:
            self._spawn(self._answer(inbound.conversation))
        return None

    async def answer_inline(self, inbound: Inbound) -> Reply | None:
        """For a caller that shows the reply itself (the terminal): run the turn now and return the
        reply, marked delivered, since showing it cannot fail."""
        reply = await self._engine.handle(inbound)
        if reply is not None:
            pending = await self._outbox.lease(reply.delivery_key, self.owner)
            if pending is not None:
                await self._outbox.delivered(pending)
        return reply

    async def feedback(self, feedback: Feedback) -> None:
        """The feedback handler every adapter holds. A button click names the message it rates and goes
        straight to the engine; an emoji reaction names the bot's message it was put on, which the
        outbox maps to the reply's customer message and conversation (a reaction on any other message,
        a customer's or a desk note, is dropped here). A 👎 queues its follow-up as a turn; it is run now
        rather than at the next sweep."""
        if feedback.reacted_to and not feedback.in_reply_to:
            reacted = await self._outbox.reacted(feedback.platform, feedback.reacted_to)
            if reacted is None:
                log.info("a reaction on a message that is not a reply; ignored", extra={"platform": feedback.platform})
                return
            feedback = replace(feedback, in_reply_to=reacted.in_reply_to, conversation=reacted.conversation)
        await self._engine.feedback(feedback)
        self._spawn(self._answer(feedback.conversation))

    async def send(self, reply: Reply) -> None:
        """A reply that is not a turn's, through the outbox (see ``ReplyPoster.send``)."""
        await self.poster.send(reply)

    async def deliver(self, conversation: ConversationKey | None = None) -> int:
        """Send every due reply (see ``ReplyPoster.deliver``); returns how many the platforms accepted."""
        return await self.poster.deliver(conversation)

    async def _answer(self, conversation: ConversationKey) -> None:
        key = str(conversation)
        if key in self._running:
            self._again.add(key)  # the run going on reads the queue once more before it ends
            return
        self._running.add(key)
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._engine.run_queue(conversation)
                except ConversationBusy as busy:
                    # Another process runs this conversation: one line, no traceback; the turn waits its turn.
                    log.warning("conversation busy in another process for %.0fs; the turn stays queued for a retry",
                                busy.waited, extra={"platform": conversation.platform, "conversation": key})
                    break
                except Exception:
                    log.exception("a turn failed; it stays queued for a retry",
                                  extra={"platform": conversation.platform})
                    break
                if key not in self._again:
                    break
        finally:
            self._running.discard(key)
        await self.deliver(conversation)

    # --- the sweeper and the lifecycle ------------------------------------------------------------

    async def sweep(self) -> None:
        """Once: take over turns nobody runs (their process died), then send replies that are due."""
        for conversation in await self._engine.accept.waiting():
            if str(conversation) not in self._running:
                await self._answer(conversation)
        await self.deliver()

    def start(self) -> None:
        """Begin sweeping (in the running loop); the first sweep runs at once, so a restart finishes what
        the last process left."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="delivery-sweeper")
        if not self._listeners and self.poster.platforms:
            self._listeners = [
                asyncio.create_task(self.poster.notices.listen(self.poster.platforms, self._notice),
                                    name="delivery-notices"),
                asyncio.create_task(self._deliver_when_noticed(), name="delivery-on-notice"),
            ]

    async def _notice(self, platform: str) -> None:
        self._noticed.set()  # a burst of notices is one look at the outbox

    async def _deliver_when_noticed(self) -> None:
        while True:
            await self._noticed.wait()
            self._noticed.clear()
            # One look at a time, run as a background task: stopping cancels this loop but waits for a
            # send under way, rather than cutting it between the platform's acceptance and the mark.
            await asyncio.wait({self._spawn(self.deliver())})

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("delivery sweep failed; trying again shortly")
            await asyncio.sleep(SWEEP_EVERY)

    def _spawn(self, work: Awaitable[object]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("background delivery failed")

        task = asyncio.create_task(run(), name="delivery")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until every background turn and send started so far has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in [*self._listeners, *([self._sweeper] if self._sweeper is not None else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listeners, self._sweeper = [], None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), timeout=STOP_GRACE)
        for task in list(self._tasks):
            task.cancel()
        await self.poster.notices.close()
