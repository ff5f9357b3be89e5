"""Allows ``python -m pmh``."""

from pmh.cli import main

main()
