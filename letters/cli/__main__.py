"""`python -m letters.cli`: the same as the `letters` command."""

from letters.cli.app import main

main()
