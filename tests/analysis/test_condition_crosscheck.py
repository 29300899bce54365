"""The client's condition evaluator (``analysis/condition.py``) and the sandbox's
(``sandbox/evaluate.py``) are two implementations of upstream's ``utils/evaluate`` on purpose
(the sandbox shares no code with the client). Both run the same table of cases, ported from
argo-rollouts ``utils/evaluate/evaluate_test.go`` (9f8d111d8; the upstream test in each id) plus
the conditions of upstream's example templates, and must agree with upstream and each other."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gitops_release.analysis.condition import (
    ConditionFailed,
    ConditionSyntax,
    compile_condition,
    judge,
)
from gitops_release.sandbox import evaluate as sandbox

# (case, result, condition, upstream's answer: True/False, or None for an error)
CASES: list[tuple[str, Any, str, bool | None]] = [
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
    ("TestEvaluateAsIntPanic", "1.1", "asInt(result) == 1.1", None),
    ("TestEvaluateAsFloat/string", "1.1", "asFloat(result) == 1.1", True),
    ("TestEvaluateAsFloat/ge", "1.1", "asFloat(result) >= 1.1", True),
    ("TestEvaluateAsFloat/le", "1.1", "asFloat(result) <= 1.1", True),
    ("TestEvaluateAsFloat/float", 1.1, "asFloat(result) == 1.1", True),
    ("TestEvaluateAsFloat/int", 1, "asFloat(result) == 1", True),
    ("TestEvaluateAsFloatError/NotANum", "NotANum", "asFloat(result) == 1.1", None),
    ("TestEvaluateAsFloatError/mismatched", "1.1", 'asFloat(result) == "1.1"', None),
    ("TestAsInt/notint", "notint", "asInt(result) == 1", None),
    ("TestAsFloat/notfloat", "notfloat", "asFloat(result) == 1", None),
    ("TestDefaultFunc/nil", None, "default(result, 2) == 2", True),
    ("TestDefaultFunc/value", 1.0, "default(result, 0) == 1", True),
    ("TestIsNilFunc/nil", None, "isNil(result)", True),
    ("TestIsNilFunc/float", 1.0, "isNil(result)", False),
    ("TestIsNilFunc/array", ["hi", "hello"], "isNil(result)", False),
    ("TestIsNilFunc/false", False, "isNil(result)", False),
    ("TestIsInf/inf", math.inf, "isInf(result)", True),
    ("TestIsInf/zero", 0.0, "isInf(result)", False),
    ("TestErrorWithNonBoolReturn", True, "1", None),
    ("TestErrorWithInvalidReference", True, "invalidVariable", None),
    ("TestEvaluateInvalidStruct", True, "result.Name() == 'hi'", None),
    # upstream's example templates and the conditions
    ("error-rate", [0.005], "result[0] < 0.01", True),
    ("error-rate/high", [0.2], "result[0] < 0.01", False),
    ("error-rate/empty", [], "result[0] < 0.01", None),
    ("success-rate", [1.0], "len(result) > 0 && result[0] >= 0.99", True),
    ("success-rate/empty", [], "len(result) > 0 && result[0] >= 0.99", False),
    ("isNaN", [math.nan], "isNaN(result[0])", True),
    ("isNaN/or", [math.nan], "isNaN(result[0]) || result[0] >= 0.95", True),
    ("not", [0.5], "!(result[0] > 1)", True),
    ("web-json", {"status": "ok", "n": 3}, "result.status == 'ok' && result.n >= 3", True),
    ("web-json/index", {"data": {"ok": True}}, 'result["data"]["ok"] == true', True),
    ("nil-literal", None, "result == nil", True),
    ("backquote", "a#b", "result == `a#b`", True),
    ("any", [0.1, 0.9], "any(result, {# > 0.5})", True),
    ("none", [0.1, 0.2], "none(result, {# > 0.5})", True),
    ("one", [0.1, 0.9], "one(result, {# > 0.5})", True),
    ("filter", [0.1, 0.9, 0.8], "len(filter(result, {# > 0.5})) == 2", True),
    ("map", [1, 2], "map(result, {# * 2}) == [2, 4]", True),
    ("not-in", [1, 2], "3 not in result", True),
    ("int-float", 1, "result == 1.0", True),
    ("string-number", "1", "result == 1", None),
    ("python-only", [1], "[x for x in result]", None),
    ("attribute-escape", 1, "result.__class__", None),
    ("ternary", 1, "result > 0 ? true : false", None),
]


def _client(result: Any, condition: str) -> bool | None:
    try:
        return compile_condition(condition).holds(result)
    except (ConditionSyntax, ConditionFailed):
        return None


def _sandbox(result: Any, condition: str) -> bool | None:
    try:
        return sandbox.eval_condition(result, condition)
    except sandbox.ConditionError:
        return None


@pytest.mark.parametrize(
    ("result", "condition", "upstream"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_both_evaluators_agree_with_upstream(
    result: Any, condition: str, upstream: bool | None
) -> None:
    assert (_client(result, condition), _sandbox(result, condition)) == (upstream, upstream)


# (upstream test, successCondition, failureCondition, phase): EvaluateResult on result = true
RESULTS = [
    ("TestEvaluateResultWithSuccess", "true", "false", "Successful"),
    ("TestEvaluateResultWithFailure", "true", "true", "Failed"),
    ("TestEvaluateResultInconclusive", "false", "false", "Inconclusive"),
    ("TestEvaluateResultNoSuccessConditionAndNotFailing", "", "false", "Successful"),
    ("TestEvaluateResultNoFailureConditionAndNotSuccessful", "false", "", "Failed"),
    ("TestEvaluateResultNoFailureConditionAndNoSuccessCondition", "", "", "Successful"),
    ("TestEvaluateResultWithErrorOnSuccessCondition", "result.a == true", "true", "Error"),
    ("TestEvaluateResultWithErrorOnFailureCondition", "true", "result.a == true", "Error"),
]


@pytest.mark.parametrize(
    ("success", "failure", "phase"), [c[1:] for c in RESULTS], ids=[c[0] for c in RESULTS]
)
def test_both_judge_a_measurement_alike(success: str, failure: str, phase: str) -> None:
    client = judge(
        True,
        compile_condition(success) if success else None,
        compile_condition(failure) if failure else None,
    )
    theirs = sandbox.evaluate_result(
        True, {"successCondition": success, "failureCondition": failure}
    )
    assert (client[0], theirs[0]) == (phase, phase)
    assert bool(client[1]) is bool(theirs[1]) is (phase == "Error")


@pytest.mark.parametrize(
    "condition",
    ["result[0] <<< 1", "result[0] <", "(result[0] < 1", "result ? 1 : 2", "unknownName > 1", ""],
)
def test_an_unparsable_condition_is_refused_before_measuring(condition: str) -> None:
    with pytest.raises(ConditionSyntax) as err:
        compile_condition(condition)
    assert f'condition "{condition}"' in str(err.value)


def test_no_data_says_so() -> None:
    phase, why = judge([], compile_condition("result[0] < 0.01"), None)
    assert phase == "Error" and "no data" in why
