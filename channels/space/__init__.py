"""The interactive space: a page where fans chat with a creator's AI double over a websocket
(`channels.space.router.router`)."""
