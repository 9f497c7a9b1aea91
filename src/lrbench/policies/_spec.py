"""The policy spec grammar: text (`name(key=value, ...)`) and dict (JSON) forms.

Text grammar::

    spec   := NAME [ "(" [ arg { "," arg } [","] ] ")" ]
    arg    := NAME "=" value
    value  := NUMBER | STRING | WORD | spec | "[" [ value { "," value } [","] ] "]"

`WORD` is a bare word (`cosine`, `true`); `STRING` is single- or double-quoted. A word followed
by `(` is a nested policy. Every malformed or invalid spec raises `ConfigError` saying where it
broke or which field is wrong; nothing else escapes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from lrbench.exceptions import ConfigError, MissingParameter
from lrbench.policies._base import Policy
from lrbench.policies._registry import get_policy_class

__all__ = ["build", "from_dict", "parse"]

MAX_DEPTH = 32

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.\-]))
      | (?P<word>[A-Za-z_0-9][\w.\-/]*)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<punct>[()\[\],=])
    )""",
    re.VERBOSE,
)


def build(name: str, kwargs: Mapping[str, Any], *, total_steps: int | None = None) -> Policy:
    """Construct the policy `name` from keyword arguments, with clear errors for bad keys.

    `total_steps` fills the policy's horizon where it takes one and `kwargs` leave it out.
    """
    cls = get_policy_class(name)
    specs = cls.param_specs()
    if total_steps is not None and "total_steps" in specs and "total_steps" not in kwargs:
        kwargs = {**kwargs, "total_steps": total_steps}
    for key in kwargs:
        if key not in specs:
            close = difflib.get_close_matches(key, specs, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(
                f"unknown parameter `{key}` for policy {name}{hint} (valid: {', '.join(specs)})"
            )
    missing = [k for k in specs if k not in kwargs and k not in cls.defaults()]
    if missing:
        raise MissingParameter(
            f"missing parameter `{missing[0]}` for policy {name} "
            f"(required: {', '.join(k for k in specs if k not in cls.defaults())})",
            policy=name,
            parameter=missing[0],
        )
    try:
        return cls(**kwargs)
    except RecursionError:
        raise ConfigError(f"policy {name} is nested too deeply") from None


class _Parser:
    def __init__(self, text: str, total_steps: int | None = None) -> None:
        self.text = text
        self.total_steps = total_steps
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                column = len(text) - len(text[position:].lstrip()) + 1
                self.fail(column, "unexpected character")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.end()))
            position = match.end()
        self.index = 0

    def fail(self, column: int, message: str) -> NoReturn:
        shown = repr(self.text) if len(self.text) <= 120 else f"{self.text[:100]!r}..."
        raise ConfigError(f"malformed policy spec {shown} at column {column}: {message}")

    def column(self) -> int:
        if self.index < len(self.tokens):
            _, value, end = self.tokens[self.index]
            return end - len(value) + 1
        return len(self.text) + 1

    def peek(self) -> tuple[str, str]:
        if self.index < len(self.tokens):
            kind, value, _ = self.tokens[self.index]
            return kind, value
        return "end", ""

    def expect(self, value: str, after: str) -> None:
        kind, got = self.peek()
        if got != value or kind != "punct":
            shown = repr(got) if kind != "end" else "the end"
            self.fail(self.column(), f"expected {value!r} {after}, got {shown}")
        self.index += 1

    def policy(self, depth: int) -> Policy:
        if depth > MAX_DEPTH:
            self.fail(self.column(), f"nested deeper than {MAX_DEPTH} levels")
        kind, name = self.peek()
        if kind != "word":
            self.fail(self.column(), "expected a policy name")
        self.index += 1
        kwargs: dict[str, Any] = {}
        if self.peek() == ("punct", "("):
            self.index += 1
            while self.peek() != ("punct", ")"):
                key_kind, key = self.peek()
                if key_kind != "word":
                    self.fail(self.column(), f"expected a parameter name in {name}(...)")
                self.index += 1
                self.expect("=", f"after parameter {key!r}")
                if key in kwargs:
                    self.fail(self.column(), f"parameter {key!r} given twice")
                kwargs[key] = self.value(depth)
                if self.peek() != ("punct", ")"):
                    self.expect(",", "between parameters")
            self.index += 1
        return build(name, kwargs, total_steps=self.total_steps if depth == 0 else None)

    def value(self, depth: int) -> Any:
        kind, token = self.peek()
        if kind == "number":
            column = self.column()
            self.index += 1
            try:
                return int(token) if re.fullmatch(r"[+-]?\d+", token) else float(token)
            except ValueError:  # more digits than Python converts
                self.fail(column, f"a number of {len(token)} characters is out of range")
        if kind == "string":
            self.index += 1
            return token[1:-1]
        if kind == "word":
            if self.index + 1 < len(self.tokens) and self.tokens[self.index + 1][1] == "(":
                return self.policy(depth + 1)
            self.index += 1
            return {"true": True, "false": False}.get(token, token)
        if (kind, token) == ("punct", "["):
            if depth > MAX_DEPTH:
                self.fail(self.column(), f"nested deeper than {MAX_DEPTH} levels")
            self.index += 1
            items = []
            while self.peek() != ("punct", "]"):
                items.append(self.value(depth + 1))
                if self.peek() != ("punct", "]"):
                    self.expect(",", "between list items")
            self.index += 1
            return items
        shown = repr(token) if kind != "end" else "the end"
        self.fail(self.column(), f"expected a value, got {shown}")

    def parse(self) -> Policy:
        policy = self.policy(0)
        if self.index != len(self.tokens):
            self.fail(self.column(), f"unexpected {self.peek()[1]!r} after the policy")
        return policy


def from_dict(
    data: Mapping[str, Any], _depth: int = 0, *, total_steps: int | None = None
) -> Policy:
    """Build a policy from its dict form, as `Policy.to_dict()` writes it.

    Example:
        >>> from_dict({"name": "cosine", "lr": 0.1, "total_steps": 100})
        lrbench.parse('cosine(lr=0.1,total_steps=100)')
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise ConfigError(f"a policy dict must be a mapping with a string 'name', got {data!r}")
    if _depth > MAX_DEPTH:
        raise ConfigError(f"policy dict nested deeper than {MAX_DEPTH} levels")
    cls = get_policy_class(data["name"])
    specs = cls.param_specs()
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            continue
        kind = specs[key].kind if key in specs else ""
        if kind == "policy" and isinstance(value, Mapping):
            value = from_dict(value, _depth + 1)
        elif kind == "policy_list" and isinstance(value, (list, tuple)):
            value = [from_dict(v, _depth + 1) if isinstance(v, Mapping) else v for v in value]
        kwargs[key] = value
    return build(data["name"], kwargs, total_steps=total_steps if _depth == 0 else None)


def parse(spec: str | Mapping[str, Any] | Policy, *, total_steps: int | None = None) -> Policy:
    """Turn a policy spec into a `Policy`: text, dict form, or a policy (returned as is).

    `total_steps` is the horizon of a spec that leaves it out (a trainer's `max_steps`): it
    fills the outermost policy's `total_steps` when that policy takes one and the spec gives
    none; a spec's own `total_steps` always wins.

    Example:
        >>> parse("cosine(lr=0.1, min_lr=0.001, total_steps=1000, warmup_steps=100)")(100)
        0.1
        >>> parse("cosine(lr=0.1,warmup_steps=100)", total_steps=1000)
        lrbench.parse('cosine(lr=0.1,total_steps=1000,warmup_steps=100)')

    Raises:
        ConfigError: the spec is malformed (the message gives the column) or invalid (it names
            the policy, the parameter and the rule).
    """
    if isinstance(spec, Policy):
        return spec
    if isinstance(spec, Mapping):
        return from_dict(spec, total_steps=total_steps)
    if not isinstance(spec, str):
        raise ConfigError(f"a policy spec must be a string or a dict, got {type(spec).__name__}")
    if not spec.strip():
        raise ConfigError(
            "empty policy spec; expected something like cosine(lr=0.1,total_steps=1000)"
        )
    return _Parser(spec, total_steps).parse()
