"""A small evaluator for the HCL expressions that decide how many resources exist: `count` and
`for_each` arguments and the variables, locals and literals they read.

It understands literals, `var.`/`local.` references with attribute and index access, object and
tuple constructors, `!`, `&&`, `||`, comparisons, the conditional operator and a few collection
functions (toset, length, keys, values, merge, concat, flatten, lookup, coalesce, try). Anything
else (for-expressions, string templates, resource attributes) evaluates to UNKNOWN, and callers
count what they cannot know as approximate rather than guess.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
Resolver = Callable[[str, str], Any]  # (kind "var"|"local", name) -> value

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|<=|>=|&&|\|\||=>|[-+*/%<>!?:.,=\[\](){}])
      | (?P<ident>[A-Za-z_][\w-]*)
    )""",
    re.VERBOSE,
)


class _Parser:
    def __init__(self, text: str, resolve: Resolver, bindings: list[dict[str, Any]] | None = None):
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"cannot read {text[position : position + 20]!r}")
            kind = match.lastgroup or "op"
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.index = 0
        self.resolve = resolve
        self.bindings: list[dict[str, Any]] = list(bindings or [])

    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise ValueError(f"expected {value!r}, found {token[1]!r}")
        self.index += 1
        return token

    def skip_balanced(self, opener: str, closer: str) -> None:
        depth = 0
        while True:
            _, value = self.take()
            if value == opener:
                depth += 1
            elif value == closer:
                depth -= 1
                if depth == 0:
                    return

    def expression(self) -> Any:
        condition = self.binary(0)
        if self.peek()[1] == "?":
            self.take("?")
            yes = self.expression()
            self.take(":")
            no = self.expression()
            if condition is UNKNOWN:
                return UNKNOWN
            return yes if condition else no
        return condition

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            _, op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.peek()[1] == "!":
            self.take()
            value = self.unary()
            return UNKNOWN if value is UNKNOWN else not value
        if self.peek()[1] == "-":
            self.take()
            value = self.unary()
            return -value if isinstance(value, (int, float)) else UNKNOWN
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            token = self.peek()
            if token[1] == "." and self.peek(1)[0] in ("ident", "number"):
                self.take()
                key = self.take()[1]
                value = _index(value, key)
            elif token[1] == "[":
                if self.peek(1)[1] == "*":
                    self.skip_balanced("[", "]")
                    value = UNKNOWN
                    continue
                self.take("[")
                key = self.expression()
                self.take("]")
                value = _index(value, key)
            else:
                return value

    def primary(self) -> Any:
        kind, value = self.peek()
        if kind == "number":
            self.take()
            return float(value) if "." in value else int(value)
        if kind == "string":
            self.take()
            body = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            return template(body, self.resolve, self.bindings) if "${" in body else body
        if value == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        if value == "[":
            return self.for_(value, "]") if self.peek(1)[1] == "for" else self.tuple_()
        if value == "{":
            return self.for_(value, "}") if self.peek(1)[1] == "for" else self.object_()
        if kind == "ident":
            self.take()
            if value in ("true", "false"):
                return value == "true"
            if value == "null":
                return None
            if self.peek()[1] == "(":
                return self.call(value)
            if value in ("var", "local") and self.peek()[1] == ".":
                self.take(".")
                return self.resolve(value, self.take()[1])
            for scope in reversed(self.bindings):
                if value in scope:
                    return scope[value]
            return UNKNOWN  # module., each., data., resource attributes: known only at plan time
        raise ValueError(f"unexpected {value!r}")

    def for_(self, opener: str, closer: str) -> Any:
        """`[for v in coll : expr if cond]` or `{for k, v in coll : key => value if cond}`: the body
        is parsed again for each element, with the loop names bound to that element."""
        self.take(opener)
        self.take("for")
        names = [self.take()[1]]
        if self.peek()[1] == ",":
            self.take()
            names.append(self.take()[1])
        self.take("in")
        collection = self.expression()
        self.take(":")
        body = self.index
        end = self._closing(closer)
        if not isinstance(collection, (dict, list)):
            self.index = end + 1
            return UNKNOWN
        pairs = sorted(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
        items: list[Any] = []
        entries: dict[str, Any] = {}
        for key, value in pairs:
            self.bindings.append(dict(zip(names, (key, value) if len(names) == 2 else (value,), strict=True)))
            self.index = body
            try:
                element_key = self.expression() if opener == "{" else None
                if opener == "{":
                    self.take("=>")
                element = self.expression()
                if self.peek()[1] == "." and self.peek(1)[1] == ".":
                    return self._abandon(end)  # grouping (`...`) is not needed for counting
                keep: Any = True
                if self.peek()[1] == "if":
                    self.take()
                    keep = self.expression()
            finally:
                self.bindings.pop()
            if keep is UNKNOWN or (opener == "{" and not isinstance(element_key, str)):
                return self._abandon(end)
            if keep:
                if opener == "{":
                    entries[str(element_key)] = element
                else:
                    items.append(element)
        self.index = end + 1
        return entries if opener == "{" else items

    def _closing(self, closer: str) -> int:
        depth, index = 0, self.index
        while index < len(self.tokens):
            value = self.tokens[index][1]
            if value in ("(", "[", "{"):
                depth += 1
            elif value in (")", "]", "}"):
                if depth == 0:
                    if value != closer:
                        raise ValueError(f"expected {closer!r}, found {value!r}")
                    return index
                depth -= 1
            index += 1
        raise ValueError(f"no closing {closer!r}")

    def _abandon(self, end: int) -> Any:
        self.index = end + 1
        return UNKNOWN

    def tuple_(self) -> list[Any]:
        self.take("[")
        items = []
        while self.peek()[1] != "]":
            items.append(self.expression())
            if self.peek()[1] == ",":
                self.take()
        self.take("]")
        return items

    def object_(self) -> Any:
        self.take("{")
        result: dict[str, Any] = {}
        while self.peek()[1] != "}":
            kind, key = self.take()
            if kind == "string":
                key = key[1:-1]
            elif key == "(":
                key_value = self.expression()
                self.take(")")
                key = str(key_value)
            self.take()  # = or :
            result[key] = self.expression()
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return result

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek()[1] != ")":
            args.append(self.expression())
            if self.peek()[1] in (",", "..."):
                self.take()
        self.take(")")
        return _call(name, args)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "||": lambda a, b: bool(a or b),
    "&&": lambda a, b: bool(a and b),
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "&&" and (left is False or right is False):
        return False
    if op == "||" and (left is True or right is True):
        return True
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    try:
        return _OPERATORS[op](left, right)
    except (TypeError, ZeroDivisionError):
        return UNKNOWN


def _index(value: Any, key: Any) -> Any:
    if value is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return value.get(str(key), UNKNOWN)
    if isinstance(value, list):
        try:
            return value[int(key)]
        except (ValueError, IndexError):
            return UNKNOWN
    return UNKNOWN


def _call(name: str, args: list[Any]) -> Any:
    if name == "try":
        return next((a for a in args if a is not UNKNOWN), UNKNOWN)
    if any(a is UNKNOWN for a in args):
        return UNKNOWN
    try:
        if name == "toset":
            return list(dict.fromkeys(args[0]))
        if name == "length":
            return len(args[0])
        if name == "keys":
            return sorted(args[0])
        if name == "values":
            return [args[0][k] for k in sorted(args[0])]
        if name == "merge":
            merged: dict[str, Any] = {}
            for arg in args:
                merged.update(arg or {})
            return merged
        if name == "concat":
            return [item for arg in args for item in arg]
        if name == "flatten":
            return _flatten(args[0])
        if name == "lookup":
            return args[0].get(args[1], args[2] if len(args) > 2 else UNKNOWN)
        if name == "coalesce":
            return next((a for a in args if a not in (None, "")), None)
    except (TypeError, AttributeError, IndexError):
        return UNKNOWN
    return UNKNOWN


def _flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in value:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def template(text: str, resolve: Resolver, bindings: list[dict[str, Any]] | None = None) -> Any:
    """A string template: literal text with ${...} interpolations (directives %{...} unsupported)."""
    parts: list[str] = []
    position = 0
    while True:
        start = text.find("${", position)
        if start < 0:
            parts.append(text[position:])
            break
        parts.append(text[position:start])
        depth, end = 0, start + 1
        while end < len(text):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if end >= len(text):
            return UNKNOWN
        value = evaluate("${" + text[start + 2 : end] + "}", resolve, bindings)
        if value is UNKNOWN or isinstance(value, (dict, list)) or value is None:
            return UNKNOWN
        parts.append(str(value).lower() if isinstance(value, bool) else str(value))
        position = end + 1
    return "".join(parts)


def evaluate(value: Any, resolve: Resolver, bindings: list[dict[str, Any]] | None = None) -> Any:
    """A value as python-hcl2 gives it: literals stay, "${...}" is evaluated, templates are UNKNOWN."""
    if isinstance(value, dict):
        return {k: evaluate(v, resolve) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [evaluate(v, resolve) for v in value]
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        try:
            parser = _Parser(value[2:-1], resolve, bindings)
            result = parser.expression()
            if parser.peek()[0] == "end":
                return result
        except (ValueError, RecursionError):
            pass
        # Not one expression: "${a}-${b}" is a template that happens to start and end with one.
        return template(value, resolve, bindings) if value.count("${") > 1 else UNKNOWN
    if isinstance(value, str) and "${" in value:
        return template(value, resolve, bindings)
    return value
