"""The ``minilm`` command line: ``cli.main.main`` parses and runs a command; ``cli.main.EXIT_CODES`` maps
exceptions to exit codes. Each command group is a module with a ``register`` function; shared helpers
are in ``cli.common``."""
