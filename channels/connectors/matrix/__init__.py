"""Matrix: DM rooms and group rooms of a bot account, answered as the creator's double."""

from channels.connectors.matrix.connector import MatrixConnector
from channels.connectors.registry import CONNECTORS

CONNECTORS.add(MatrixConnector)

__all__ = ["MatrixConnector"]
