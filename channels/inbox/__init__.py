"""Platform integration: signed webhooks in, a persisted inbox, channel policies, the reply
worker, the approval queue, and a persisted outbox to callback URLs and websockets.

The app includes `channels.inbox.router.router` and, in its lifespan, runs
`handle = channels.inbox.worker.start_worker(services)` ... `await handle.stop()`.

Nothing is imported here: the live package uses the inbox's store, models and policies, and
the worker answers paid live messages with the live package's code, so a package that
imported its worker would put the two packages in an import cycle."""
