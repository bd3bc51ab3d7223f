"""The console's pages, one module per part (thin: logic lives in the modules beside)."""

from fastapi import APIRouter

from channels.console.routes import (
    approvals,
    avatar,
    connectors,
    conversations,
    live,
    onboarding,
    session,
    settings,
    voice,
)

router = APIRouter()
for module in (session, onboarding, voice, settings, approvals, conversations, live, avatar):
    router.include_router(module.router)
router.include_router(connectors.router)

__all__ = ["router"]
