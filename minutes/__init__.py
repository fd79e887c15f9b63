"""Minutes: semantic and keyword search over UK council committee papers and minutes.

Layers, lowest first (enforced by import-linter in `make lint`): records < storage < search <
features < cli and web. Nothing below `cli` and `web` imports click, fastapi or starlette.
"""

__version__ = "0.2.0"
