"""Local stand-ins for the Slack, Telegram and Discord APIs, on 127.0.0.1, that record what they receive.

The real SDKs talk to them through each platform's ``api_base_url``; tests assert on the calls recorded.
"""
