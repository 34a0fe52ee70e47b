"""python -m minilm"""

import sys

from .cli import main

sys.exit(main())
