"""`python -m switchboard …` is the `switchboard` command."""

import gc

# Importing the commands (and with them most of the gateway) allocates much and frees nothing:
# no collection while it runs (collections would walk it all again and again, for nothing),
# and what it loaded is kept out of later ones (it lives as long as the process).
gc.disable()
from switchboard.cli import main  # noqa: E402

gc.freeze()
gc.enable()
main()
