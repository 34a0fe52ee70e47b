"""python -m minilm"""

from .cli.main import entry

entry()
