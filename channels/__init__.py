"""The outermost layer: HTTP API, websockets, console, CLI and the composition root."""
