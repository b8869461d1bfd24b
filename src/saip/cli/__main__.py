"""``python -m saip.cli`` (used by ``torchrun -m saip.cli``)."""

from saip.cli import main

main()
