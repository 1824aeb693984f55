"""`python -m bcdtool` entry point."""

from bcdtool.cli import main

main()
