"""Metric conditions as the analysis controller evaluates them (argo-rollouts ``utils/evaluate``).

Upstream compiles ``successCondition`` / ``failureCondition`` with expr-lang (``result[0] < 0.01``,
``len(result) > 0 && result[0] >= 0.99``, ``all(result, {# > 1})``). No maintained Python
implementation of expr-lang exists, so a condition is tokenized here, its expr-only spellings
(``&&``, ``||``, ``!``, ``true``/``false``/``nil``, predicate closures) rewritten to their Python
twins, and the result is evaluated by ``simpleeval`` (a safe AST walker, never ``eval``) with
upstream's environment: ``result``, ``asInt``, ``asFloat``, ``isNaN``, ``isInf``, ``isNil``,
``default``, ``len`` and the closure builtins ``all``/``any``/``none``/``one``/``filter``/``map``/
``count``. Comparisons keep expr's types: a number compared with a string is an error
("mismatched types"), not ``False``.

Not supported (a condition using them is an Error, naming the token): the ternary ``?:``, ``??``,
pipes, ranges ``..``, and the infix string operators (``contains``, ``matches``, ...).
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import operator
import re
import tokenize
from collections.abc import Callable
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR = "Successful", "Failed", "Inconclusive", "Error"

_CLOSURE_FUNCS = {"all", "any", "none", "one", "filter", "map", "count"}
_IT = "_it_"  # what ``#`` (the closure's element) becomes
_UNSUPPORTED = {"?", "??", "|", "..", "contains", "matches", "startsWith", "endsWith"}


class ConditionError(Exception):
    """A condition that does not compile or does not run (upstream: the measurement is Error)."""


def go_type(value: Any) -> str:
    """The Go type name expr would report for a JSON-ish value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "<nil>"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _translate(condition: str) -> str:
    """expr-lang source -> the Python expression simpleeval walks."""
    out: list[str] = []
    text = _LITERALS.sub(_protect, condition)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as err:
        raise ConditionError(f"syntax error: {err}") from err
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind, value = tok.type, tok.string
        if kind == tokenize.OP and value == "&" and _peek(tokens, i + 1) == "&":
            out.append(" and ")
            i += 2
            continue
        if kind == tokenize.OP and value == "|" and _peek(tokens, i + 1) == "|":
            out.append(" or ")
            i += 2
            continue
        if kind in (tokenize.OP, tokenize.ERRORTOKEN) and value == "!":
            out.append(" not ")
        elif kind in (tokenize.OP, tokenize.ERRORTOKEN) and value == "?":
            raise ConditionError("unsupported operator '?' (the ternary and '??' are not modelled)")
        elif kind == tokenize.ERRORTOKEN and value.strip():
            raise ConditionError(f"unexpected token {value!r}")
        elif kind == tokenize.OP and value == "{" and _closure_position(out):
            body, i = _closure_body(tokens, i)
            out.append(repr(_translate(body)))
            continue
        elif kind == tokenize.OP and value in _UNSUPPORTED:
            raise ConditionError(f"unsupported operator {value!r}")
        elif kind == tokenize.NAME:
            if value == "true":
                out.append("True")
            elif value == "false":
                out.append("False")
            elif value == "nil":
                out.append("None")
            elif value in ("and", "or", "not", "in"):
                out.append(f" {value} ")
            elif value in _UNSUPPORTED:
                raise ConditionError(f"unsupported operator {value!r}")
            elif keyword.iskeyword(value) or value in ("True", "False", "None"):
                raise ConditionError(f"unknown name {value}")
            else:
                out.append(value)
        elif kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT):
            pass
        else:
            out.append(value)
        i += 1
    return " ".join(out)


# string literals (kept, backquoted ones made Python strings) or a closure's ``#``
_LITERALS = re.compile(r'("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\')|`([^`]*)`|#')


def _protect(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    if match.group(2) is not None:
        return repr(match.group(2))
    return f" {_IT} "


def _peek(tokens: list[tokenize.TokenInfo], i: int) -> str:
    return tokens[i].string if i < len(tokens) else ""


def _closure_position(out: list[str]) -> bool:
    """``{`` right after ``all(xs,``: a predicate closure, not a map literal."""
    if len(out) < 4 or out[-1] != ",":
        return False
    depth = 0
    for j in range(len(out) - 2, -1, -1):
        if out[j] in (")", "]", "}"):
            depth += 1
        elif out[j] in ("(", "[", "{"):
            if depth == 0:
                return out[j] == "(" and j > 0 and out[j - 1] in _CLOSURE_FUNCS
            depth -= 1
    return False


def _closure_body(tokens: list[tokenize.TokenInfo], start: int) -> tuple[str, int]:
    depth, i = 0, start
    parts: list[str] = []
    while i < len(tokens):
        value = tokens[i].string
        if value == "{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif value == "}":
            depth -= 1
            if depth == 0:
                return " ".join(parts).replace(_IT, "#"), i + 1
        parts.append(value)
        i += 1
    raise ConditionError("unclosed '{' in closure")


# --- upstream's environment ---------------------------------------------------------------
def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ConditionError(f"asInt() not supported on bool {value}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        if re.fullmatch(r"[+-]?\d+", value):
            return int(value)
        raise ConditionError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    raise ConditionError(f"asInt() not supported on {go_type(value)} {value}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ConditionError(f"asFloat() not supported on bool {value}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            if value.strip() != value or "_" in value:
                raise ValueError(value)
            return float(value)
        except ValueError:
            raise ConditionError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise ConditionError(f"asFloat() not supported on {go_type(value)} {value}")


def _is_nan(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(f"cannot use {go_type(value)} as argument (type float64) to isNaN")
    return math.isnan(value)


def _is_inf(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(f"cannot use {go_type(value)} as argument (type float64) to isInf")
    return math.isinf(value)


def _len(value: Any) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise ConditionError(f"invalid argument for len (type {go_type(value)})")


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strict(op: Callable[[Any, Any], Any], symbol: str, ordered: bool) -> Callable[[Any, Any], Any]:
    def compare(left: Any, right: Any) -> Any:
        same = (_numeric(left) and _numeric(right)) or type(left) is type(right)
        if not ordered and (left is None or right is None):
            same = True
        if not same or (ordered and not (_numeric(left) or isinstance(left, str))):
            raise ConditionError(
                f"invalid operation: {symbol} (mismatched types {go_type(left)} and {go_type(right)})"
            )
        return op(left, right)

    return compare


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with expr's member access: ``a.b`` reads a map's key (nil when absent) and
    nothing else, so no Python attribute or method of a value is ever reachable."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        value = self._eval(node.value)
        if isinstance(value, dict):
            return value.get(node.attr)
        raise ConditionError(f"type {go_type(value)} has no field {node.attr}")


def _evaluator(result: Any) -> _Evaluator:
    evaluator = _Evaluator()

    def closure(kind: str) -> Callable[[Any, str], Any]:
        def run(items: Any, predicate: str) -> Any:
            if not isinstance(items, list):
                raise ConditionError(f"builtin {kind} takes only array (got {go_type(items)})")
            values = [_run(predicate, result, it=item) for item in items]
            if kind == "map":
                return values
            flags = [_bool(v) for v in values]
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

    nil = result is None
    evaluator.functions = {
        "asInt": _as_int,
        "asFloat": _as_float,
        "isNaN": _is_nan,
        "isInf": _is_inf,
        "len": _len,
        # upstream's isNil and default look at the measured result, whatever their argument
        "isNil": lambda _value: nil,
        "default": lambda _value, fallback: fallback if nil else result,
        **{name: closure(name) for name in _CLOSURE_FUNCS},
    }
    evaluator.names = {"result": result}
    ops = dict(evaluator.operators)
    for node, fn, symbol, ordered in (
        (ast.Eq, operator.eq, "==", False),
        (ast.NotEq, operator.ne, "!=", False),
        (ast.Lt, operator.lt, "<", True),
        (ast.LtE, operator.le, "<=", True),
        (ast.Gt, operator.gt, ">", True),
        (ast.GtE, operator.ge, ">=", True),
    ):
        ops[node] = _strict(fn, symbol, ordered)
    evaluator.operators = ops
    return evaluator


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConditionError(f"expected bool, but got {go_type(value)}")
    return value


def _run(condition: str, result: Any, *, it: Any = None) -> Any:
    evaluator = _evaluator(result)
    if it is not None or _IT in condition:
        evaluator.names[_IT] = it
    try:
        return evaluator.eval(condition)
    except ConditionError:
        raise
    except InvalidExpression as err:
        name = getattr(err, "name", None) or getattr(err, "attr", None)
        if type(err).__name__ == "NameNotDefined" and name:
            raise ConditionError(f"unknown name {name}") from err
        raise ConditionError(str(err).split(" for expression ")[0]) from err
    except IndexError as err:
        raise ConditionError(f"index out of range ({err})") from err
    except (KeyError, TypeError, ValueError, ZeroDivisionError, SyntaxError) as err:
        raise ConditionError(f"{type(err).__name__}: {err}") from err


def eval_condition(result: Any, condition: str) -> bool:
    """EvalCondition: the condition, run against ``result``, must be a bool."""
    return _bool(_run(_translate(condition), result))


def _nil_or_empty(result: Any) -> bool:
    return result is None or (isinstance(result, list) and not result)


def evaluate_result(result: Any, metric: dict[str, Any]) -> tuple[str, str]:
    """EvaluateResult: (measurement phase, error message or "") for one measured value."""
    success_cond = metric.get("successCondition") or ""
    failure_cond = metric.get("failureCondition") or ""
    success = failure = False
    for which, cond in (("successCondition", success_cond), ("failureCondition", failure_cond)):
        if not cond:
            continue
        try:
            value = eval_condition(result, cond)
        except ConditionError as err:
            if _nil_or_empty(result):
                why = "metric result is nil or empty: no data returned from the metric provider"
            else:
                why = str(err)
            return ERROR, f'could not evaluate {which} "{cond}": {why}'
        if which == "successCondition":
            success = value
        else:
            failure = value
    if not success_cond and not failure_cond:
        return SUCCESSFUL, ""
    if success_cond and not failure_cond:
        failure = not success
    elif failure_cond and not success_cond:
        success = not failure
    if failure:
        return FAILED, ""
    if not success:
        return INCONCLUSIVE, ""
    return SUCCESSFUL, ""
