"""A creator's persona as an OpenAI-compatible model (`POST /v1/chat/completions` with
`model` = creator id), laid out like vLLM's server: protocol (wire schemas), serving (logic),
router (thin transport: `channels.openai_compat.router.router`)."""
