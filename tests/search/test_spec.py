"""Search spec parsing: every bad input fails before any trial, naming the entry and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lit_distill.search.config_keys import canonical_keys, override_tree, resolve_key, spec_keys
from lit_distill.search.spec import SearchSpecError, load_spec, parse_spec

from .helpers import TOY_FIT, spec_dict, write_spec


def parse(tmp_path: Path, **changes: Any):  # type: ignore[no-untyped-def]
    return parse_spec(spec_dict(tmp_path, **changes), tmp_path / "spec.yaml")


def test_valid_spec(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, spec_dict(tmp_path)))
    assert [m.name for m in spec.objectives] == ["exact", "num_parameters"]
    assert [m.name for m in spec.thresholded] == ["exact"]
    assert spec.parameters[1].type == "int" and spec.parameters[1].low == 1
    assert spec.base_configs == (TOY_FIT,)
    assert spec.backend.type == "optuna" and spec.backend.sampler == "auto"


def _param(**entry: Any) -> list[dict[str, Any]]:
    return [{"name": "p", "key": "model.knob", "type": "double", "bounds": {"min": 0, "max": 1}, **entry}]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"parameters": _param(bounds={"min": 1, "max": 0})},
            "bounds.min (1) must be smaller than bounds.max (0)",
        ),
        (
            {"parameters": _param(type="float")},
            "'float' is not allowed; choose one of ['int', 'double', 'categorical']",
        ),
        ({"parameters": _param(transformation="log")}, "transformation: log needs bounds.min > 0"),
        ({"parameters": _param(scale=2)}, "unknown field(s) ['scale']"),
        ({"parameters": _param() + _param()}, "parameter names must be unique, repeated: ['p']"),
        ({"parameters": _param(type="int", bounds={"min": 0.5, "max": 3})}, "needs integer bounds"),
        (
            {"metrics": [{"name": "exact", "objective": "maximise"}]},
            "'maximise' is not allowed; choose one of",
        ),
        (
            {"metrics": [{"name": "accuracy", "objective": "maximize", "threshold": 5}]},
            "do not produce a metric 'accuracy'",
        ),
        ({"metrics": [{"name": "f1", "strategy": "store"}]}, "at least one metric needs strategy: optimize"),
        (
            {"metrics": [{"name": "exact"}, {"name": "f1", "strategy": "constraint"}]},
            "strategy: constraint needs a threshold",
        ),
        ({"observation_budget": 0}, "observation_budget: expected a positive integer, got 0"),
        ({"backend": {"type": "hyperopt"}}, "backend.type: 'hyperopt' is not allowed"),
        (
            {"derived": [{"key": "model.other", "expression": "1 - alpha"}]},
            "uses ['alpha'], which are not numeric parameters",
        ),
        ({"derived": [{"key": "model.other", "expression": "__import__('os')"}]}, "is not allowed"),
        (
            {"derived": [{"key": "model.layers", "expression": "layers(hidden, 12)"}]},
            "fails at the high bounds",
        ),
        ({"parameters": _param(key=None)}, "has no key and no derived expression uses it"),
        ({"base_config": "nope.yaml"}, "base_config: file"),
        (
            {"monotone_chains": [{"name": "c", "key": "k", "length": 0, "bounds": {"min": 1, "max": 2}}]},
            "length: expected a positive integer",
        ),
        (
            {
                "linear_constraints": [
                    {"type": "greater_than", "threshold": 0, "terms": [{"name": "hidden", "weight": 1}]}
                ]
            },
            "'hidden' is not a double parameter",
        ),
        ({"colour": "red"}, "unknown field(s) ['colour']"),
    ],
)
def test_bad_spec_is_refused_with_a_clear_message(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SearchSpecError) as err:
        parse(tmp_path, **changes)
    assert message in str(err.value)
    assert str(tmp_path / "spec.yaml") in str(err.value)


def test_missing_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(SearchSpecError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [unclosed")
    with pytest.raises(SearchSpecError, match="is not valid YAML"):
        load_spec(bad)


def test_resolve_key_fills_in_init_args_and_list_indices() -> None:
    config = {
        "model": {"class_path": "X", "init_args": {"lr": 1}},
        "trainer": {"callbacks": [{"init_args": {"a": 1}}]},
    }
    assert resolve_key(config, "model.lr") == "model.init_args.lr"
    assert resolve_key(config, "model.init_args.lr") == "model.init_args.lr"
    assert resolve_key(config, "trainer.callbacks.0.a") == "trainer.callbacks.0.init_args.a"
    assert resolve_key(config, "trainer.callbacks.1.a") is None
    assert resolve_key(config, "model.lrr") is None


def test_override_tree_copies_lists_whole() -> None:
    base = {"trainer": {"callbacks": [{"class_path": "A", "init_args": {"a": 1}}, {"class_path": "B"}]}}
    tree = override_tree(base, {"trainer.callbacks.0.init_args.a": 5, "model.init_args.lr": 0.1})
    assert tree["trainer"]["callbacks"] == [{"class_path": "A", "init_args": {"a": 5}}, {"class_path": "B"}]
    assert tree["model"] == {"init_args": {"lr": 0.1}}
    assert base["trainer"]["callbacks"][0]["init_args"]["a"] == 1  # base untouched


def test_unknown_config_key_is_refused_with_close_matches(tmp_path: Path) -> None:
    spec = parse(tmp_path, parameters=_param(key="model.init_args.knobb"))
    with pytest.raises(SearchSpecError) as err:
        canonical_keys(spec, spec_keys(spec))
    text = str(err.value)
    assert "config key 'model.init_args.knobb' does not exist" in text and "parameter 'p'" in text
    assert "model.init_args.knob" in text  # the suggestion


def test_key_only_among_defaults_is_found_through_print_config(tmp_path: Path) -> None:
    # `other` is not written in toy_fit.yaml; the launcher's --print_config shows it as a default.
    spec = parse(tmp_path, parameters=_param(key="model.other"))
    assert canonical_keys(spec, spec_keys(spec)) == {"model.other": "model.init_args.other"}
    spec = parse(tmp_path, parameters=_param(key="model.othr"))
    with pytest.raises(SearchSpecError, match="nor among the defaults of `fit`"):
        canonical_keys(spec, spec_keys(spec))
