"""``python -m rag`` is the ``rag`` command."""
from .cli import rag_main

raise SystemExit(rag_main())
