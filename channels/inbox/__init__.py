"""Platform integration: signed webhooks in, a persisted inbox, channel policies, the reply
worker, the approval queue, and a persisted outbox to callback URLs and websockets.

The app includes `channels.inbox.router.router` and, in its lifespan, runs
`handle = start_worker(services)` ... `await handle.stop()`."""

from channels.inbox.worker import WorkerHandle, start_worker

__all__ = ["WorkerHandle", "start_worker"]
