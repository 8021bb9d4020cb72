"""Example applications built on the edge-sdk SDK (run them as scripts: `python apps/<name>.py --help`)."""
