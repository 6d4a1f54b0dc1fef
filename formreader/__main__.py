"""``python -m formreader`` and the ``formreader`` console script.

Why a module of its own, and so small: batch workers are spawned processes, and a spawned
process first re-imports the script that started its parent (as ``__mp_main__``). Pointing the
console script at :mod:`formreader.cli` made every worker import the CLI and typer (with
pydantic behind it) for nothing, about 60 ms each before its first page
(benchmarks/bench_scan.py). From here the CLI is imported only when a command runs.
"""

from __future__ import annotations


def main() -> None:
    from formreader.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
