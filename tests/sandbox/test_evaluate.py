"""Metric conditions, ported from argo-rollouts ``utils/evaluate/evaluate_test.go`` (9f8d111d8).

Each upstream test is one case below (its name in the id); ``EvalTime`` (the time expressions of
``initialDelay`` templating) is not modelled. Then the conditions the issue and upstream's
example templates use, and expr-lang spellings beyond upstream's tests.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from gitops_release.sandbox.evaluate import (
    ConditionError,
    eval_condition,
    evaluate_result,
)

# (upstream test, successCondition, failureCondition, expected phase, an error message expected)
RESULT_CASES = [
    ("TestEvaluateResultWithSuccess", "true", "false", "Successful", False),
    ("TestEvaluateResultWithFailure", "true", "true", "Failed", False),
    ("TestEvaluateResultInconclusive", "false", "false", "Inconclusive", False),
    ("TestEvaluateResultNoSuccessConditionAndNotFailing", "", "false", "Successful", False),
    ("TestEvaluateResultNoFailureConditionAndNotSuccessful", "false", "", "Failed", False),
    ("TestEvaluateResultNoFailureConditionAndNoSuccessCondition", "", "", "Successful", False),
    ("TestEvaluateResultWithErrorOnSuccessCondition", "a == true", "true", "Error", True),
    ("TestEvaluateResultWithErrorOnFailureCondition", "true", "a == true", "Error", True),
]


@pytest.mark.parametrize(
    ("success", "failure", "phase", "errs"),
    [c[1:] for c in RESULT_CASES],
    ids=[c[0] for c in RESULT_CASES],
)
def test_evaluate_result(success: str, failure: str, phase: str, errs: bool) -> None:
    got, message = evaluate_result(True, {"successCondition": success, "failureCondition": failure})
    assert got == phase
    assert bool(message) is errs


# (upstream test, result, condition, expected bool)
CONDITION_CASES: list[tuple[str, Any, str, bool]] = [
    ("TestEvaluateConditionWithSuccess", True, "result == true", True),
    ("TestEvaluateConditionWithFailure", True, "result == false", False),
    (
        "TestEvaluateArray",
        {"service_apdex": {"label": None, "values": {"values": [2.0, 2.0]}}},
        "all(result.service_apdex.values.values, {# > 1})",
        True,
    ),
    ("TestEvaluateInOperator", [2.0, 2.0], "2 in result", True),
    ("TestEvaluateFloat64", 5.0, "result > 1", True),
    ("TestEvaluateAsInt/string", "1", "asInt(result) == 1", True),
    ("TestEvaluateAsInt/int", 1, "asInt(result) == 1", True),
    ("TestEvaluateAsInt/float", 1.123, "asInt(result) == 1", True),
    ("TestEvaluateAsFloat/1", "1.1", "asFloat(result) == 1.1", True),
    ("TestEvaluateAsFloat/2", "1.1", "asFloat(result) >= 1.1", True),
    ("TestEvaluateAsFloat/3", "1.1", "asFloat(result) <= 1.1", True),
    ("TestEvaluateAsFloat/4", 1.1, "asFloat(result) == 1.1", True),
    ("TestEvaluateAsFloat/5", 1, "asFloat(result) == 1", True),
    ("TestEvaluateAsFloat/6", 1, "asFloat(result) >= 1", True),
    ("TestDefaultFunc/nil-0", None, "default(result, 0) == 0", True),
    ("TestDefaultFunc/nil-1", None, "default(result, 1) == 1", True),
    ("TestDefaultFunc/nil-2", None, "default(result, 2) == 2", True),
    ("TestDefaultFunc/value", 1.0, "default(result, 0) == 1", True),
    ("TestIsNilFunc/nil", None, "isNil(result)", True),
    ("TestIsNilFunc/float", 1.0, "isNil(result)", False),
    ("TestIsNilFunc/array", ["hi", "hello"], "isNil(result)", False),
    ("TestIsNilFunc/false", False, "isNil(result)", False),
    ("TestIsInf/inf", math.inf, "isInf(result)", True),
    ("TestIsInf/zero", 0.0, "isInf(result)", False),
    # the conditions of the issue and of upstream's example templates
    ("error-rate", [0.005], "result[0] < 0.01", True),
    ("error-rate/high", [0.2], "result[0] < 0.01", False),
    ("success-rate", [1.0], "len(result) > 0 && result[0] >= 0.99", True),
    ("success-rate/empty", [], "len(result) > 0 && result[0] >= 0.99", False),
    ("isNaN", [math.nan], "isNaN(result[0])", True),
    ("isNaN/or", [math.nan], "isNaN(result[0]) || result[0] >= 0.95", True),
    ("not", [0.5], "!(result[0] > 1)", True),
    ("not-keyword", [0.5], "not (result[0] > 1)", True),
    ("and-keyword", [0.5], "result[0] > 0 and result[0] < 1", True),
    ("web-json", {"status": "ok", "n": 3}, "result.status == 'ok' && result.n >= 3", True),
    ("web-json/index", {"data": {"ok": True}}, 'result["data"]["ok"] == true', True),
    ("nil-literal", None, "result == nil", True),
    ("backquote", "a#b", "result == `a#b`", True),
    ("hash-in-string", "a#b", 'result == "a#b"', True),
    ("any", [0.1, 0.9], "any(result, {# > 0.5})", True),
    ("none", [0.1, 0.2], "none(result, {# > 0.5})", True),
    ("one", [0.1, 0.9], "one(result, {# > 0.5})", True),
    ("filter", [0.1, 0.9, 0.8], "len(filter(result, {# > 0.5})) == 2", True),
    ("map", [1, 2], "map(result, {# * 2}) == [2, 4]", True),
    ("not-in", [1, 2], "3 not in result", True),
    ("int-float", 1, "result == 1.0", True),
]


@pytest.mark.parametrize(
    ("result", "condition", "expected"),
    [c[1:] for c in CONDITION_CASES],
    ids=[c[0] for c in CONDITION_CASES],
)
def test_eval_condition(result: Any, condition: str, expected: bool) -> None:
    assert eval_condition(result, condition) is expected


# (upstream test, result, condition, the error's words)
ERROR_CASES: list[tuple[str, Any, str, str]] = [
    ("TestErrorWithNonBoolReturn", True, "1", "expected bool, but got int"),
    ("TestErrorWithInvalidReference", True, "invalidVariable", "unknown name invalidVariable"),
    ("TestEvaluateInvalidStruct", True, "result.Name() == 'hi'", ""),
    ("TestEvaluateAsIntPanic", "1.1", "asInt(result) == 1.1", 'parsing "1.1": invalid syntax'),
    ("TestAsInt/notint", "notint", "asInt(result) == 1", 'parsing "notint": invalid syntax'),
    (
        "TestEvaluateAsFloatError/NotANum",
        "NotANum",
        "asFloat(result) == 1.1",
        'strconv.ParseFloat: parsing "NotANum": invalid syntax',
    ),
    (
        "TestEvaluateAsFloatError/mismatched",
        "1.1",
        'asFloat(result) == "1.1"',
        "invalid operation: == (mismatched types float64 and string)",
    ),
    ("TestAsFloat/notfloat", "notfloat", "asFloat(result) == 1", 'parsing "notfloat"'),
    ("index-out-of-range", [], "result[0] < 0.01", "index out of range"),
    ("python-only", [1], "[x for x in result]", ""),
    ("python-keyword", [1], "result is None", ""),
    ("ternary", 1, "result > 0 ? true : false", "unsupported operator '?'"),
    ("contains", "abc", 'result contains "b"', "unsupported operator 'contains'"),
    ("attribute-escape", 1, "result.__class__", ""),
]


@pytest.mark.parametrize(
    ("result", "condition", "words"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_eval_condition_errors(result: Any, condition: str, words: str) -> None:
    with pytest.raises(ConditionError) as err:
        eval_condition(result, condition)
    assert words in str(err.value)


def test_as_int_and_as_float_of_plain_strings() -> None:
    """TestAsInt / TestAsFloat: the successful rows."""
    assert eval_condition("1", "asInt(result) == 1")
    assert eval_condition("1", "asFloat(result) == 1")
    assert eval_condition("1.1", "asFloat(result) == 1.1")


def test_no_data_is_named_as_such() -> None:
    """formatEvalError: a condition that fails on an empty result says no data came back."""
    phase, message = evaluate_result([], {"successCondition": "result[0] < 0.01"})
    assert phase == "Error"
    assert message == (
        'could not evaluate successCondition "result[0] < 0.01": metric result is nil or empty:'
        " no data returned from the metric provider"
    )


def test_an_unparsable_condition_is_an_error_naming_it() -> None:
    phase, message = evaluate_result([0.1], {"successCondition": "result[0] <<< 1"})
    assert phase == "Error"
    assert message.startswith('could not evaluate successCondition "result[0] <<< 1": ')
