"""Connectors on real chat protocols: a bridge per remote room (a Twitch channel, a YouTube
live chat, a Matrix account's rooms) into one of the platform's channels."""

from channels.connectors.base import Connector, ConnectorSpec, Context, Health, State
from channels.connectors.registry import CONNECTORS, ConnectorRegistry

__all__ = [
    "CONNECTORS",
    "Connector",
    "ConnectorRegistry",
    "ConnectorSpec",
    "Context",
    "Health",
    "State",
]
