"""YAML input files read by the YAML 1.2 core schema, refusing what could change their meaning.

:func:`pmargin._files.read_structured`'s YAML reader, apart so that PyYAML is imported only when
a YAML file is read (the start of every command pays for what it imports). What is refused and
why: :mod:`pmargin._files`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent, ScalarEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from pmargin._refusals import DuplicateKeyError, RefusedError, max_depth
from pmargin._validation import abbreviate
from pmargin.errors import InputError

__all__ = ["parse_yaml"]

_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)


class _Core12Resolver(BaseResolver):
    """Implicit resolution of plain scalars by the YAML 1.2 core schema.

    No octal ``0100``, sexagesimal ``1:30``, ``yes``/``on`` booleans or timestamps.
    """


_Core12Resolver.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", rf"^(?:{_CORE_INT.pattern})$", "-+0123456789"),
    ("float", rf"^(?:{_CORE_FLOAT.pattern})$", "-+.0123456789"),
):
    _Core12Resolver.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )


class _Core12Constructor(SafeConstructor):
    """Safe constructor with YAML 1.2 core numbers and refusals of 1.1-only features."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """``0o17`` octal, ``0x1F`` hex, anything else decimal (``0100`` is 100)."""
        value = str(self.construct_scalar(node))
        if not _CORE_INT.fullmatch(value):
            raise RefusedError(f"{abbreviate(value)!r} is not a YAML 1.2 integer", _line(node))
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        """Decimal floats, ``.inf``, ``-.inf`` and ``.nan`` (refused later by the field)."""
        value = str(self.construct_scalar(node))
        lowered = value.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        if not _CORE_FLOAT.fullmatch(value):
            raise RefusedError(f"{abbreviate(value)!r} is not a YAML 1.2 number", _line(node))
        return float(value)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Keep ``<<`` as an ordinary key (YAML 1.2 has no merge keys); readers refuse it."""

    def construct_mapping(  # type: ignore[override]
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[str, Any]:
        """Build a mapping of text keys, refusing other keys and a repeated key (with its line)."""
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise RefusedError(
                    f"the key {abbreviate(key)!r} is not text (quote it)", _line(key_node)
                )
            if key in result:
                raise DuplicateKeyError(key, _line(key_node))
            result[key] = self.construct_object(value_node, deep=deep)
        return result


_Core12Constructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:int": _Core12Constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _Core12Constructor.construct_yaml_float,
}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _StrictLoader(Reader, Scanner, Parser, Composer, _Core12Constructor, _Core12Resolver):
    """A YAML loader for input files.

    Safe constructors, YAML 1.2 core scalars, no anchors, aliases or explicit tags, nesting at
    most ``files.max_depth`` deep.
    """

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Core12Constructor.__init__(self)
        _Core12Resolver.__init__(self)
        self._depth = 0
        self._limit = max_depth()

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, refusing aliases, anchors, tags and depth beyond the limit."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = int(event.start_mark.line) + 1
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise RefusedError("anchors and aliases (&, *) are not accepted", line)
        tag = getattr(event, "tag", None)
        if (
            isinstance(event, ScalarEvent | CollectionStartEvent)
            and tag not in (None, "!")
            and tag not in _ALLOWED_TAGS
        ):
            raise RefusedError(f"the tag {abbreviate(tag)!r} is not accepted", line)
        if isinstance(event, CollectionStartEvent):
            if self._depth >= self._limit:
                raise RefusedError(f"nests deeper than the limit of {self._limit} levels", line)
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def parse_yaml(text: str, shown: str, what: str) -> Any:
    """Parse YAML ``text`` with :class:`_StrictLoader`; errors name the file ``shown`` and line."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = str(err.problem or err.context or "syntax error")[:80]
        raise InputError(what, shown, f"is not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as err:
        raise InputError(what, shown, f"is not valid YAML: {str(err)[:80]}") from None
    except DuplicateKeyError as err:
        raise InputError(
            what,
            shown,
            f"is not valid: the key {abbreviate(err.key)!r} appears twice at line {err.line}",
        ) from None
    except RefusedError as err:
        where = "" if err.line is None else f" (line {err.line})"
        raise InputError(what, shown, f"is not accepted: {err.reason}{where}") from None
    except ValueError:  # Python refuses integer literals of more than 4,300 digits
        raise InputError(what, shown, "is not valid YAML: an integer has too many digits") from None
    finally:
        loader.dispose()
