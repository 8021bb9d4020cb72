"""The `edge-sdk` command. Each subcommand is a module `edge_sdk/cli/cmd_<name>.py` defining

    COMMAND = "name"
    HELP = "one line"
    def register(parser: argparse.ArgumentParser) -> None   # add arguments
    def run(args: argparse.Namespace) -> int                # do it; return the exit code

Modules are discovered by name, so adding a command never edits a shared list. They must import
heavy modules (onnxruntime, tensorrt, pycuda, paho) inside `run`, so `--help` stays fast everywhere.
"""
