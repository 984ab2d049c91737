"""``python -m app`` takes exactly the arguments of the ``optirace`` command."""
import sys

from app.cli import main

sys.exit(main())
