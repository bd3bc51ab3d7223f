"""The trust-and-safety report (`persona redteam`), one concern per module:

- data: the red-team sets and how a short run samples them;
- detectors: independent re-checks of generated replies (not persona.safety's code);
- tracing: what the engine's guard decided, read through a wrapper;
- results: the report model, its figures against the targets, its JSON;
- grading: from one reply to what the fan saw;
- runner: every case through the real engine;
- machine: load and CPU facts for the timing;
- rendering: rich tables and the BENCHMARKS.md section;
- inbound: the sets through the cheap inbound layers alone (no model)."""
