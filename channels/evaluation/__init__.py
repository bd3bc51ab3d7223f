"""Measuring the platform end to end, apart from the fan-facing channels: the red team
(redteam/), the answers a fan gets (answers.py), the creator's voice (voice.py), what the
double chooses to answer (selection.py), and the BENCHMARKS.md sections they write
(report.py). The judges themselves are library code in persona.evaluation; these runners
drive the whole platform (services, engine, inbox worker), so they live in channels/.
Nothing here imports the command line or bench/."""
