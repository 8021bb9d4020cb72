"""YAML from users, read with bounds: nesting depth and the number of values after alias expansion.

A 1 KB "billion laughs" file (`a: &a [x, x, ...]`, `b: &b [*a, *a, ...]`, nine levels) expands to 10**9
values: PyYAML composes it in microseconds (aliases share nodes), but everything that walks the data after
(line numbers, pydantic) expands it, for minutes and gigabytes. Deep nesting (`[[[[...`) overflows PyYAML's
recursive composer (a RecursionError traceback). `load_bounded` refuses both with one clear message:

    data, node = load_bounded(text, "app.yaml")   # node: the composed document, for line numbers

- depth is checked on the token stream first (the scanner is iterative), so composing never recurses deeper
  than `MAX_DEPTH`;
- the expanded size is counted on the node graph with one count per distinct node (aliases are shared), so
  counting costs what the file costs, not what it expands to; a recursive alias (`&a [*a]`) is refused.
"""

from __future__ import annotations

from typing import Any

import yaml

from edge_sdk.errors import ConfigError

MAX_DEPTH = 64  # an app config is ~5 levels deep
MAX_VALUES = 100_000  # after alias expansion; an app config has a few hundred
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def load_bounded(text: str, source: str, *, max_depth: int = MAX_DEPTH,
                 max_values: int = MAX_VALUES) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document and its node graph; `ConfigError` naming the file and line for malformed
    YAML, nesting deeper than `max_depth`, or more than `max_values` values once aliases are expanded."""
    try:
        _check_depth(text, source, max_depth)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            _check_size(node, source, max_values)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"malformed YAML: {exc.problem}", where=where,
                          fix="check indentation and quoting around that line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", where=source) from None
    except RecursionError:  # never expected after the depth check; a clear message all the same
        raise ConfigError(f"YAML nested too deeply (more than {max_depth} levels)", where=source) from None
    return data, node


def _check_depth(text: str, source: str, max_depth: int) -> None:
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > max_depth:
                raise ConfigError(f"YAML nested more than {max_depth} levels deep",
                                  where=f"{source}:{token.start_mark.line + 1}",
                                  fix="a config is a few levels of keys; check for runaway brackets or indentation")
        elif isinstance(token, _CLOSE):
            depth -= 1


def _check_size(root: yaml.Node | None, source: str, max_values: int) -> None:
    """Values `root` expands to (each alias counted in full), computed once per distinct node."""
    if root is None:
        return
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] > max_values:
                raise ConfigError(f"YAML expands to more than {max_values} values (anchors and aliases '*name' "
                                  "repeated inside each other: a 'billion laughs' file?)",
                                  where=f"{source}:{node.start_mark.line + 1}",
                                  fix="a config needs a few hundred values; remove the repeated aliases")
            continue
        if key in size:
            continue
        if key in on_path:
            raise ConfigError("a YAML alias refers to a value that contains it (a recursive anchor)",
                              where=f"{source}:{node.start_mark.line + 1}", fix="remove the recursive alias")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
