"""YouTube live chat over the Data API (polling `liveChatMessages.list`)."""

from channels.connectors.registry import CONNECTORS
from channels.connectors.youtube.connector import YouTubeConnector
from channels.connectors.youtube.spec import YouTubeSpec

CONNECTORS.add(YouTubeConnector)

__all__ = ["YouTubeConnector", "YouTubeSpec"]
