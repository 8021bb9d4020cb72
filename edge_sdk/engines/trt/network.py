"""Network from ONNX: create the network with the flags of the API path, parse the model, report errors.

Trap: the OnnxParser owns the weights the network points to. Keep the returned `ParsedNetwork` (which holds
the parser) alive until the engine is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.engines.trt.version import Features
from edge_sdk.errors import BuildError

if TYPE_CHECKING:
    import tensorrt as trt


@dataclass
class ParsedNetwork:
    network: trt.INetworkDefinition
    parser: trt.OnnxParser  # keeps the weights alive
    flags: tuple[str, ...]  # NetworkDefinitionCreationFlag names used


def network_flags(features: Features) -> tuple[int, tuple[str, ...]]:
    """The create_network() bit mask of the API path and the names of its bits."""
    import tensorrt as trt

    mask, names = 0, []
    if features.explicit_batch_flag:
        mask |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        names.append("EXPLICIT_BATCH")
    if features.strongly_typed:
        mask |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        names.append("STRONGLY_TYPED")
    return mask, tuple(names)


def onnx_node_names(path: Path) -> list[tuple[str, str]]:
    """(name, op_type) of each graph node, by index: TensorRT 8.6 reports parser errors by node index only."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # the parser's own error is reported; names are a nicety
        return []
    return [(n.name, n.op_type) for n in model.graph.node]


def describe_parser_error(error: trt.ParserError, features: Features, nodes: list[tuple[str, str]]) -> str:
    index = error.node()
    if index < 0:
        return error.desc()
    name, op = nodes[index] if index < len(nodes) else ("", "")
    if features.parser_node_names:
        name, op = error.node_name() or name, error.node_operator() or op
    label = f"node {index}" + (f" {name!r}" if name else "") + (f" ({op})" if op else "")
    return f"{label}: {error.desc()}"


def parse_onnx(builder: trt.Builder, logger: trt.ILogger, path: Path, features: Features) -> ParsedNetwork:
    """Create the network and parse `path` into it; parser errors raise BuildError listing nodes by name."""
    import tensorrt as trt

    mask, names = network_flags(features)
    network = builder.create_network(mask)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        nodes = onnx_node_names(path)
        errors = []
        for i in range(parser.num_errors):
            error: trt.ParserError = parser.get_error(i)  # the stubs type get_error's result as `...`
            errors.append(describe_parser_error(error, features, nodes))
        raise BuildError("TensorRT's ONNX parser rejected the model:\n  " + "\n  ".join(errors or ["(no detail)"]),
                         where=str(path),
                         fix="re-export with a supported opset (13-19) and ops TensorRT supports; "
                             "`polygraphy inspect capability` lists what it cannot parse")
    return ParsedNetwork(network=network, parser=parser, flags=names)
