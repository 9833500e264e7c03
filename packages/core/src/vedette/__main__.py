"""``python -m vedette``: the ``vedette`` command."""

from vedette.cli import main

main(prog_name="vedette")
