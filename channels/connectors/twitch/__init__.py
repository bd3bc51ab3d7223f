"""Twitch chat over its IRC interface."""

from channels.connectors.registry import CONNECTORS
from channels.connectors.twitch.connector import TwitchConnector
from channels.connectors.twitch.spec import TwitchSpec

CONNECTORS.add(TwitchConnector)

__all__ = ["TwitchConnector", "TwitchSpec"]
