"""A metric's ``successCondition`` / ``failureCondition``, evaluated from the CI job as the analysis
controller does (argo-rollouts ``utils/evaluate``): the client's own evaluator, the only importer
of ``simpleeval`` outside the sandbox.

The sandbox has its evaluator on the other side of the wire (``sandbox/evaluate.py``); this one is a
deliberate second implementation (its own scanner for expr-lang's tokens), and
``tests/analysis/test_condition_crosscheck.py`` runs both on the same table of upstream cases.

A condition is scanned into expr-lang tokens, checked (unknown names, unsupported operators and
unbalanced brackets are a :class:`ConditionSyntax` before anything is measured), rewritten into the
Python expression ``simpleeval`` walks (never ``eval``), and run with upstream's environment:
``result``, ``asInt``, ``asFloat``, ``isNaN``, ``isInf``, ``isNil``, ``default``, ``len`` and the
predicate builtins ``all``/``any``/``none``/``one``/``filter``/``map``/``count`` (``{# > 1}``).
Comparisons keep expr's types: a number against a string is an error, not ``False``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR = "Successful", "Failed", "Inconclusive", "Error"


class ConditionSyntax(ValueError):
    """A condition that does not compile (bad input: nothing is measured)."""


class ConditionFailed(ValueError):
    """A condition that compiled but did not run on this result (the measurement is Error)."""


_SCAN = re.compile(
    r"""\s*(?:
      (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>&&|\|\||==|!=|<=|>=|\*\*|\?\?|\.\.|[-+*/%<>!()\[\],.{}\#?:|^~])
    )""",
    re.VERBOSE,
)
_PREDICATES = frozenset({"all", "any", "none", "one", "filter", "map", "count"})
_FUNCTIONS = frozenset(
    {"asInt", "asFloat", "isNaN", "isInf", "isNil", "default", "len"} | _PREDICATES
)
_WORDS = {"true": "True", "false": "False", "nil": "None", "and": "and", "or": "or", "not": "not"}
_NOT_MODELLED = {
    "?": "the ternary '?:'",
    "??": "'??'",
    ":": "':'",
    "|": "pipes '|'",
    "..": "ranges '..'",
    "^": "'^'",
    "~": "'~'",
    "contains": "'contains'",
    "matches": "'matches'",
    "startsWith": "'startsWith'",
    "endsWith": "'endsWith'",
}
_ELEMENT = "__element__"


def _scan(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _SCAN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConditionSyntax(f"unexpected character {text[pos:].lstrip()[:1]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _python(tokens: list[tuple[str, str]], *, in_predicate: bool = False) -> str:
    """expr tokens -> Python source; a predicate's body becomes a string literal its builtin runs."""
    out: list[str] = []
    calls: list[str] = []  # for each open bracket: the function it calls ("" for others)
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        previous = out[-1] if out else ""
        if kind == "string":
            out.append(repr(value[1:-1]) if value.startswith("`") else value)
        elif kind == "number":
            out.append(value)
        elif kind == "name":
            if value in _NOT_MODELLED:
                raise ConditionSyntax(f"operator {_NOT_MODELLED[value]} is not supported")
            if previous == ".":
                out.append(value)  # a map key, read by member access
            elif value in _WORDS:
                out.append(f" {_WORDS[value]} ")
            elif value == "in":
                out.append(" in ")
            elif value == "result" or value in _FUNCTIONS:
                out.append(value)
            else:
                raise ConditionSyntax(f"unknown name {value}")
        elif value in _NOT_MODELLED:
            raise ConditionSyntax(f"operator {_NOT_MODELLED[value]} is not supported")
        elif value == "&&":
            out.append(" and ")
        elif value == "||":
            out.append(" or ")
        elif value == "!":
            out.append(" not ")
        elif value == "#":
            if not in_predicate:
                raise ConditionSyntax("'#' outside a predicate {...}")
            out.append(_ELEMENT)
        elif value == "{" and previous == "," and calls and calls[-1] in _PREDICATES:
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                depth += {"{": 1, "}": -1}.get(tokens[j][1], 0)
                j += 1
            if depth:
                raise ConditionSyntax("unclosed '{'")
            out.append(repr(_python(tokens[i + 1 : j - 1], in_predicate=True)))
            i = j
            continue
        elif value in "([{":
            calls.append(previous.strip() if value == "(" else "")
            out.append(value)
        elif value in ")]}":
            if not calls:
                raise ConditionSyntax(f"unbalanced {value!r}")
            calls.pop()
            out.append(value)
        else:
            out.append(value)
        i += 1
    if calls:
        raise ConditionSyntax("unclosed bracket")
    source = "".join(out).strip()
    if not source:
        raise ConditionSyntax("empty condition")
    try:
        ast.parse(source, mode="eval")
    except SyntaxError:
        raise ConditionSyntax("syntax error") from None
    return source


@dataclass(frozen=True)
class Condition:
    text: str
    source: str

    def holds(self, result: Any) -> bool:
        """Run against a measured ``result``; the answer must be a bool."""
        return _must_be_bool(_run(self.source, result, None))


def compile_condition(text: str) -> Condition:
    """Raises :class:`ConditionSyntax` naming what does not compile."""
    try:
        return Condition(text, _python(_scan(text)))
    except ConditionSyntax as err:
        raise ConditionSyntax(f'condition "{text}": {err}') from None


# --- upstream's environment --------------------------------------------------------------------
def type_name(value: Any) -> str:
    """The Go type expr names in its messages."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string")):
        if isinstance(value, kind):
            return name
    if value is None:
        return "<nil>"
    return "[]interface {}" if isinstance(value, list) else "map[string]interface {}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_int(value: Any) -> int:
    if _number(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+", value):
        return int(value)
    raise ConditionFailed(f"asInt: cannot convert {type_name(value)} {value!r}")


def _as_float(value: Any) -> float:
    if _number(value):
        return float(value)
    if isinstance(value, str) and value == value.strip() and "_" not in value:
        try:
            return float(value)
        except ValueError:
            pass
    raise ConditionFailed(f"asFloat: cannot convert {type_name(value)} {value!r}")


def _float_test(name: str, test: Callable[[float], bool]) -> Callable[[Any], bool]:
    def run(value: Any) -> bool:
        if not _number(value):
            raise ConditionFailed(f"{name}: want float64, got {type_name(value)}")
        return test(value)

    return run


def _len(value: Any) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise ConditionFailed(f"invalid argument for len (type {type_name(value)})")


def _compare(symbol: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    ordering = symbol not in ("==", "!=")

    def run(left: Any, right: Any) -> Any:
        if _number(left) and _number(right):
            return op(left, right)
        if ordering:
            if isinstance(left, str) and isinstance(right, str):
                return op(left, right)
        elif type(left) is type(right) or left is None or right is None:
            return op(left, right)
        raise ConditionFailed(
            f"invalid operation: {symbol} (mismatched types {type_name(left)} and {type_name(right)})"
        )

    return run


class _Walker(EvalWithCompoundTypes):  # type: ignore[misc]
    """``a.b`` reads key ``b`` of map ``a`` (nil when absent), never a Python attribute."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        value = self._eval(node.value)
        if isinstance(value, dict):
            return value.get(node.attr)
        raise ConditionFailed(f"cannot read field {node.attr} of {type_name(value)}")


def _predicate(kind: str, result: Any) -> Callable[[Any, str], Any]:
    def run(items: Any, body: str) -> Any:
        if not isinstance(items, list):
            raise ConditionFailed(f"{kind}: want an array, got {type_name(items)}")
        answers = [_run(body, result, item) for item in items]
        if kind == "map":
            return answers
        flags = [_must_be_bool(a) for a in answers]
        if kind == "filter":
            return [x for x, keep in zip(items, flags, strict=True) if keep]
        if kind == "count":
            return flags.count(True)
        if kind == "one":
            return flags.count(True) == 1
        if kind == "none":
            return not any(flags)
        return all(flags) if kind == "all" else any(flags)

    return run


_COMPARISONS = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
}


def _run(source: str, result: Any, element: Any) -> Any:
    walker = _Walker()
    walker.names = {"result": result, _ELEMENT: element}
    walker.functions = {
        "asInt": _as_int,
        "asFloat": _as_float,
        "isNaN": _float_test("isNaN", math.isnan),
        "isInf": _float_test("isInf", math.isinf),
        "len": _len,
        # upstream binds both to the measured result, whatever they are given
        "isNil": lambda _ignored: result is None,
        "default": lambda _ignored, fallback: fallback if result is None else result,
        **{kind: _predicate(kind, result) for kind in _PREDICATES},
    }
    walker.operators = {
        **walker.operators,
        **{node: _compare(symbol, op) for node, (symbol, op) in _COMPARISONS.items()},
    }
    try:
        return walker.eval(source)
    except ConditionFailed:
        raise
    except InvalidExpression as err:
        raise ConditionFailed(str(err).split(" for expression ")[0]) from None
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as err:
        raise ConditionFailed(f"{type(err).__name__}: {err}") from None


def _must_be_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConditionFailed(f"expected bool, but got {type_name(value)}")


def judge(result: Any, success: Condition | None, failure: Condition | None) -> tuple[str, str]:
    """EvaluateResult: the measurement's phase for ``result``, and why when it is Error."""
    held: dict[str, bool] = {}
    for label, condition in (("successCondition", success), ("failureCondition", failure)):
        if condition is None:
            continue
        try:
            held[label] = condition.holds(result)
        except ConditionFailed as err:
            empty = result is None or result == []
            why = "the provider returned no data (nil or empty result)" if empty else str(err)
            return ERROR, f'could not evaluate {label} "{condition.text}": {why}'
    if not held:
        return SUCCESSFUL, ""
    succeeded = held.get("successCondition", not held.get("failureCondition", False))
    failed = held.get("failureCondition", not held.get("successCondition", True))
    if failed:
        return FAILED, ""
    return (SUCCESSFUL, "") if succeeded else (INCONCLUSIVE, "")
