"""`python -m rag` is `rag`."""

import sys

from .cli import main

sys.exit(main())
