"""Engine backends, one module each, named after its `engine.type` key (see engines/registry.py).

A backend module holds its config section, its `Engine` subclass and `BACKEND = Backend(Config, open)`,
and imports its heavy dependency only when an engine opens.
"""
