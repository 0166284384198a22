"""`python -m switchboard …` is the `switchboard` command."""

import gc

# Importing the commands (and with them most of the gateway) allocates much and frees nothing:
# no collection while it runs, and what it loaded is kept out of later ones (it lives as long
# as the process). With `serve`'s own freeze, the collector's share of a gateway's start fell
# from ~0.5 s to ~0.2 s, most of which is spent importing the `switchboard` package, before
# this module runs.
gc.disable()
from switchboard.cli import main  # noqa: E402

gc.freeze()
gc.enable()
main()
