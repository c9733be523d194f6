"""CloudFormation's intrinsic functions evaluated locally, for a given set of parameter values.

What a template's property, condition or rule comes to without deploying it: ``sandbox invoke`` reads the
function's settings this way, and the template's tests check its ``Rules`` with it. Values are what
CloudFormation would use: parameters are strings (a ``Number`` parameter too), pseudo parameters are those
``sam local`` assumes. Something only a deployment knows (a resource's ``Ref`` or ``Fn::GetAtt``) raises
:class:`Unresolved`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# The pseudo parameters' values under `sam local` (samcli IntrinsicsSymbolTable.DEFAULT_PSEUDO_PARAM_VALUES).
PSEUDO_PARAMETERS: Final[Mapping[str, str]] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/51af3dc0-da77-11e4-872e-1234567db123",
    "AWS::URLSuffix": "localhost",
}


class Unresolved(ValueError):
    """The value depends on something only a deployment knows (a resource, a parameter without a value)."""


class _NoValue:
    """``Ref AWS::NoValue``: the property is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each parameter's value: ``given``, else its ``Default`` (as a string, as CloudFormation passes it)."""
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if given and name in given:
            values[name] = str(given[name])
        elif isinstance(spec, Mapping) and "Default" in spec:
            values[name] = _as_text(spec["Default"])
    return values


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)


class Evaluator:
    """Evaluates intrinsic functions of ``template`` with ``parameters`` (see :func:`parameter_values`)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.template = template
        self.parameters = {**PSEUDO_PARAMETERS, **parameters}

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic function replaced by its value (``NO_VALUE`` members dropped)."""
        if isinstance(node, list):
            return [item for item in (self.value(v) for v in node) if item is not NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise Unresolved(f"no condition {name}")
        return bool(self.value(conditions[name]))

    def rule_failures(self) -> list[str]:
        """The ``AssertDescription`` of every assertion of the template's ``Rules`` that fails (deploy refused)."""
        failures: list[str] = []
        for name, rule in (self.template.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions") or []:
                if not self.value(assertion["Assert"]):
                    failures.append(str(assertion.get("AssertDescription", name)))
        return failures

    # The functions -------------------------------------------------------------------------------------

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        raise Unresolved(f"Ref {name}")

    def _get_att(self, argument: Any) -> Any:
        raise Unresolved(f"Fn::GetAtt {argument}")

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.value(when_true if self.condition(name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = (self.value(v) for v in argument)
        return _as_text(left) == _as_text(right)

    def _not(self, argument: Any) -> bool:
        (operand,) = argument
        return not self.value(operand)

    def _and(self, argument: Any) -> bool:
        return all(self.value(v) for v in argument)

    def _or(self, argument: Any) -> bool:
        return any(self.value(v) for v in argument)

    def _contains(self, argument: Any) -> bool:
        members, candidate = (self.value(v) for v in argument)
        return _as_text(candidate) in {_as_text(m) for m in members}

    def _find_in_map(self, argument: Any) -> Any:
        mapping, top, second = (self.value(v) for v in argument[:3])
        try:
            return self.template["Mappings"][mapping][_as_text(top)][_as_text(second)]
        except KeyError as error:
            raise Unresolved(f"Fn::FindInMap [{mapping}, {top}, {second}]: no {error}") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        local = {name: self.value(v) for name, v in variables.items()}
        out: list[str] = []
        rest = text
        while "${" in rest:
            before, _, after = rest.partition("${")
            out.append(before)
            name, _, rest = after.partition("}")
            if name.startswith("!"):  # ${!Literal} is the literal ${Literal}
                out.append("${" + name[1:] + "}")
            elif name in local:
                out.append(_as_text(local[name]))
            elif "." in name:
                raise Unresolved(f"Fn::Sub ${{{name}}}")
            else:
                out.append(_as_text(self._ref(name)))
        out.append(rest)
        return "".join(out)

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(_as_text(v) for v in self.value(items))

    def _select(self, argument: Any) -> Any:
        index, items = (self.value(v) for v in argument)
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return _as_text(self.value(text)).split(str(delimiter))

    def _condition(self, name: Any) -> bool:
        return self.condition(str(name))


_FUNCTIONS: Final = {
    "Ref": Evaluator._ref,
    "Fn::GetAtt": Evaluator._get_att,
    "Fn::If": Evaluator._if,
    "Fn::Equals": Evaluator._equals,
    "Fn::Not": Evaluator._not,
    "Fn::And": Evaluator._and,
    "Fn::Or": Evaluator._or,
    "Fn::Contains": Evaluator._contains,
    "Fn::FindInMap": Evaluator._find_in_map,
    "Fn::Sub": Evaluator._sub,
    "Fn::Join": Evaluator._join,
    "Fn::Select": Evaluator._select,
    "Fn::Split": Evaluator._split,
    "Condition": Evaluator._condition,
}
