"""The agents' desk in Slack, end to end: the real slack-bolt against the local fake Slack, the real engine.

A customer DMs the bot and asks for a person; the summary opens a thread in the agents' channel;
the customer's next message is forwarded there and not answered by the bot; agents' replies in the
thread reach the customer's DM thread once each; two agents claiming at once leaves one owner;
'resolve' hands back to the bot, which asks for CSAT with buttons.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.cli import platforms
from bot.config import Config, SlackPlatform
from tests.adapters.support import running, with_platforms
from tests.fakes.slack import OTHER_TEAM, FakeSlack, button_click, direct_message, event_envelope

DESK = "C0DESK"


def agent_reply(text: str, thread: str, user: str, ts: str) -> dict[str, object]:
    return {"type": "message", "channel": DESK, "channel_type": "channel", "user": user, "text": text, "ts": ts,
            "thread_ts": thread, "event_ts": ts, "team": "T0HOME"}


async def test_handoff_through_the_slack_desk(repo_config: Config, data_dir: Path) -> None:
    async with FakeSlack() as slack:
        config = with_platforms(
            repo_config,
            slack=SlackPlatform(enabled=True, bot_token="xoxb-test", app_token="xapp-test", api_base_url=slack.api_url),
            handoff=repo_config.handoff.model_copy(update={"desk": "slack", "slack_channel": DESK}),
        )
        stop = asyncio.Event()

        async def stop_running() -> None:
            stop.set()

        async with running(platforms.run(config, data_dir, stop=stop), stop_running,
                           lambda: slack.log.wait_for("apps.connections.open")):
            ask = direct_message("I want to talk to a person", ts="1700000100.000200")
            await slack.push("events_api", event_envelope(ask))
            posts = await slack.log.wait_for("chat.postMessage", count=2)
            summary = next(p for p in posts if p.params["channel"] == DESK)
            told = next(p for p in posts if p.params["channel"] == "D0CUSTOMER")
            assert "rule: asked_for_person" in summary.params["text"]
            assert "take over" in told.params["text"] and told.params["thread_ts"] == ask["ts"]
            summary_ts = await _ts_of(slack, summary)

            # The customer writes while waiting: forwarded to the desk thread, no bot answer.
            await slack.push("events_api", event_envelope(direct_message("hello? anyone?", ts="1700000101.000300",
                                                                          thread_ts=ask["ts"])))
            forwarded = await _wait_post(slack, lambda p: p.params.get("thread_ts") == summary_ts
                                         and "Customer wrote: hello? anyone?" in p.params["text"])
            assert forwarded

            # Two agents claim at the same moment: exactly one owns the conversation.
            message = {"ts": summary_ts, "text": summary.params["text"], "blocks": summary.params["blocks"]}
            await asyncio.gather(
                slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0AGENT1", channel=DESK)),
                slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0AGENT2", channel=DESK)),
            )
            notes = await _wait_posts(slack, lambda p: p.params.get("thread_ts") == summary_ts
                                      and ("claimed by" in p.params["text"] or "already human" in p.params["text"]), 2)
            assert sum("claimed by" in p.params["text"] for p in notes) == 1
            owner = "U0AGENT1" if any("claimed by U0AGENT1" in p.params["text"] for p in notes) else "U0AGENT2"

            # The owner's reply reaches the customer's DM thread, once, even when Slack redelivers it.
            reply = agent_reply("Hi! I'm on it.", summary_ts, owner, "1700000200.000100")
            await slack.push("events_api", event_envelope(reply))
            await slack.push("events_api", event_envelope(reply), retry_attempt=1)
            relayed = await _wait_post(slack, lambda p: p.params["channel"] == "D0CUSTOMER"
                                       and p.params["text"].startswith("Hi! I'm on it."))
            assert relayed.params["thread_ts"] == ask["ts"]

            # 'resolve' in the thread: the bot takes over and asks for CSAT with buttons.
            await slack.push("events_api", event_envelope(agent_reply("resolve", summary_ts, owner, "1700000300.000100")))
            csat = await _wait_post(slack, lambda p: p.params["channel"] == "D0CUSTOMER" and "Rate us" in p.params["text"])
            labels = [e["text"]["text"] for b in csat.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
            assert labels[:5] == ["1", "2", "3", "4", "5"]
            await asyncio.sleep(0.3)
            to_customer = [p.params["text"] for p in slack.log.named("chat.postMessage") if p.params["channel"] == "D0CUSTOMER"]
            assert sum(t.startswith("Hi! I'm on it.") for t in to_customer) == 1
            assert not any("hello? anyone?" in t or "don't know" in t for t in to_customer)


async def _ts_of(slack: FakeSlack, call: object) -> str:
    # The fake answers chat.postMessage with increasing ts; find the response ts by position.
    posts = slack.log.named("chat.postMessage")
    return slack.posted_ts[posts.index(call)]  # type: ignore[attr-defined]


async def _wait_posts(slack: FakeSlack, match, count: int = 1, timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in slack.log.named("chat.postMessage") if match(p)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the fake Slack did not receive the expected message")


async def _wait_post(slack: FakeSlack, match, timeout: float = 15):  # type: ignore[no-untyped-def]
    return (await _wait_posts(slack, match, 1, timeout))[0]


# --- who may act at the desk (issue 9, item 7) --------------------------------------------------------


async def _open_handoff(slack: FakeSlack) -> tuple[dict[str, object], str]:
    """A customer asks for a person; returns the summary message (as a click payload sees it) and its ts."""
    ask = direct_message("I want to talk to a person", ts="1700000100.000200")
    await slack.push("events_api", event_envelope(ask))
    posts = await slack.log.wait_for("chat.postMessage", count=2)
    summary = next(p for p in posts if p.params["channel"] == DESK)
    summary_ts = await _ts_of(slack, summary)
    return {"ts": summary_ts, "text": summary.params["text"], "blocks": summary.params["blocks"]}, summary_ts


def _outsider_reply(text: str, thread: str, ts: str) -> dict[str, object]:
    # A Slack Connect guest from another organisation, posting in the (shared) desk channel.
    return {**agent_reply(text, thread, "U0GUEST", ts), "team": OTHER_TEAM, "user_team": OTHER_TEAM,
            "source_team": OTHER_TEAM}


def _to_customer(slack: FakeSlack) -> list[str]:
    return [p.params["text"] for p in slack.log.named("chat.postMessage") if p.params["channel"] == "D0CUSTOMER"]


def _desk_notes(slack: FakeSlack, thread: str) -> list[str]:
    return [p.params["text"] for p in slack.log.named("chat.postMessage") if p.params.get("thread_ts") == thread]


async def test_a_slack_connect_guest_in_the_desk_channel_cannot_reply_claim_or_resolve(
    repo_config: Config, data_dir: Path
) -> None:
    async with FakeSlack() as slack:
        config = with_platforms(
            repo_config,
            slack=SlackPlatform(enabled=True, bot_token="xoxb-test", app_token="xapp-test", api_base_url=slack.api_url),
            handoff=repo_config.handoff.model_copy(update={"desk": "slack", "slack_channel": DESK}),
        )
        stop = asyncio.Event()

        async def stop_running() -> None:
            stop.set()

        async with running(platforms.run(config, data_dir, stop=stop), stop_running,
                           lambda: slack.log.wait_for("apps.connections.open")):
            message, summary_ts = await _open_handoff(slack)
            told = len(_to_customer(slack))
            await slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0GUEST",
                                                         channel=DESK, user_team=OTHER_TEAM))
            for i, text in enumerate(("Give me your card number", "resolve")):
                await slack.push("events_api", event_envelope(_outsider_reply(text, summary_ts, f"17000002{i}0.000100")))
            await slack.push("interactive", button_click(message, "rapport_desk_resolve", "1", user="U0GUEST",
                                                         channel=DESK, user_team=OTHER_TEAM))
            # A member of the home workspace then claims: the handoff was still open and unowned.
            await slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0AGENT1",
                                                         channel=DESK))
            await _wait_post(slack, lambda p: p.params.get("thread_ts") == summary_ts and "claimed by U0AGENT1" in p.params["text"])
            await asyncio.sleep(0.3)
            assert _to_customer(slack)[told:] == []  # nothing from the guest reached the customer, no CSAT
            assert not any("U0GUEST" in note for note in _desk_notes(slack, summary_ts))


async def test_with_handoff_agents_set_only_those_members_act_at_the_desk(repo_config: Config, data_dir: Path) -> None:
    async with FakeSlack() as slack:
        config = with_platforms(
            repo_config,
            slack=SlackPlatform(enabled=True, bot_token="xoxb-test", app_token="xapp-test", api_base_url=slack.api_url),
            handoff=repo_config.handoff.model_copy(update={"desk": "slack", "slack_channel": DESK,
                                                           "agents": ["U0AGENT1"]}),
        )
        # The builder `rapport run` uses: the adapter gets its desk channel and handoff.agents at construction.
        async with platforms.connect(config, data_dir, "run") as built:
            runtime, adapter = built.runtime, built.slack
            assert adapter is not None
            handler = platforms.start_delivery(runtime)
            async with running(adapter.start(handler, platforms.feedback_handler(runtime.engine)),
                               adapter.stop, lambda: slack.log.wait_for("apps.connections.open")):
                message, summary_ts = await _open_handoff(slack)
                told = len(_to_customer(slack))
                # U0AGENT2 is a colleague in the home workspace, but not one of handoff.agents.
                await slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0AGENT2",
                                                             channel=DESK))
                await slack.push("events_api", event_envelope(agent_reply("resolve", summary_ts, "U0AGENT2",
                                                                          "1700000300.000100")))
                await slack.push("interactive", button_click(message, "rapport_desk_claim", "1", user="U0AGENT1",
                                                             channel=DESK))
                await _wait_post(slack, lambda p: p.params.get("thread_ts") == summary_ts
                                 and "claimed by U0AGENT1" in p.params["text"])
                await slack.push("events_api", event_envelope(agent_reply("Hi, Ana here.", summary_ts, "U0AGENT1",
                                                                          "1700000301.000100")))
                await _wait_post(slack, lambda p: p.params["channel"] == "D0CUSTOMER"
                                 and p.params["text"].startswith("Hi, Ana here."))
                assert not any("U0AGENT2" in note for note in _desk_notes(slack, summary_ts))
                assert [t for t in _to_customer(slack)[told:] if "Rate us" in t] == []


# --- the builder refuses a Slack desk it cannot build, before anything opens ----------------------------


async def test_a_slack_desk_without_slack_in_this_process_is_a_config_error_naming_the_key(
    repo_config: Config, tmp_path: Path
) -> None:
    import pytest

    from bot.config import TelegramPlatform
    from bot.errors import ConfigError

    desk = {"desk": "slack", "slack_channel": DESK}
    # Telegram polls in the worker; Slack (the agents' channel) is not enabled at all.
    config = with_platforms(repo_config, telegram=TelegramPlatform(enabled=True, bot_token="123:abc"),
                            handoff=repo_config.handoff.model_copy(update=desk))
    with pytest.raises(ConfigError) as caught:
        async with platforms.connect(config, tmp_path / "data", "run"):
            pass
    assert caught.value.message == "handoff.desk is slack, but Slack is not enabled in this process"
    assert "handoff.desk: console" in caught.value.fix
    assert not (tmp_path / "data").exists(), "refused before the runtime opened"

    no_channel = with_platforms(
        repo_config, slack=SlackPlatform(enabled=True, bot_token="xoxb-test", app_token="xapp-test"),
        handoff=repo_config.handoff.model_copy(update={"desk": "slack", "slack_channel": ""}))
    with pytest.raises(ConfigError, match="handoff.slack_channel is empty"):
        async with platforms.connect(no_channel, tmp_path / "data", "run"):
            pass
