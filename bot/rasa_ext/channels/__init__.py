"""Rasa input channels: checked REST and socket.io, verified Telegram and Twilio, WeChat.

`credentials.py` builds the credentials file Rasa is started with from the channels whose
environment variables are set.
"""
