"""The `persona` command line: one module per command group, mounted on the root command by
channels/cli/main.py; channels/cli/common.py holds what they share."""

from __future__ import annotations


def main() -> None:
    """The `persona` console script. Imports the command modules only when run, so that
    importing one of them (a test, a sibling) does not import them all."""
    from channels.cli.main import main as run

    run()
