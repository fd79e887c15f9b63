"""The command line: `minutes index`, `search`, `eval`, `import`, `serve` (see serve.py's `main`).

This package is the composition root: the sources' plug-ins into the generic readers are
registered here (saved ModernGov pages into the HTML reader), so the ingest layer never
imports a source.
"""

from minutes.sources.moderngov import saved_pages

saved_pages.register()
