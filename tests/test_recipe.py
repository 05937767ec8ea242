"""Recipes: presets, overrides, JSON round trip, and clear errors for bad fields."""

from __future__ import annotations

import pytest

from edgequant.errors import EdgequantError
from edgequant.quantizer.recipe import MODES, Recipe


@pytest.mark.parametrize("mode", MODES)
def test_presets_round_trip_through_json(mode):
    r = Recipe.preset(mode).keep_float(r"^logits$").per_tensor(op="FULLY_CONNECTED")
    back = Recipe.from_json(r.to_json())
    assert back == r
    assert back.mode == mode


def test_overrides_match_by_op_type_and_by_tensor_name():
    r = Recipe.int8().keep_float(r"dense", op="FULLY_CONNECTED").per_tensor(op="CONV_2D")
    assert r.action_for("FULLY_CONNECTED", ["model/dense_1/MatMul"]) == {"float"}
    assert r.action_for("FULLY_CONNECTED", ["model/other"]) == set()  # both conditions must hold
    assert r.action_for("CONV_2D", ["x"]) == {"per_tensor"}
    assert r.action_for("ADD", ["dense"]) == set()


def test_every_weight_is_quantized_unless_a_minimum_size_is_asked_for():
    # TFLiteConverter leaves dynamic-range weights under 1024 values float; edgequant quantizes them all (their
    # error is kept small by MSE scales without data and by GPTQ with it), and keeps the rule on request
    assert Recipe.dynamic_int8().min_weight_elements is None
    for mode in MODES:
        for has_data in (False, True):
            assert Recipe.preset(mode).resolved(has_data=has_data).min_weight_elements == 0
    assert Recipe.dynamic_int8(min_weight_elements=1024).resolved(has_data=False).min_weight_elements == 1024
    assert Recipe.dynamic_int8(min_weight_elements=7).resolved(has_data=True).min_weight_elements == 7


def test_weight_rounding_auto_means_gptq_with_data_and_balanced_without():
    for mode in MODES:
        r = Recipe.preset(mode)
        assert r.weight_rounding == "auto"
        assert r.resolved(has_data=False).weight_rounding == ("nearest" if mode == "float16" else "balanced")
        assert r.resolved(has_data=True).weight_rounding == ("nearest" if mode == "float16" else "gptq")
        assert Recipe.preset(mode, weight_rounding="nearest").resolved(has_data=True).weight_rounding == "nearest"
        resolved = r.resolved(has_data=True)
        assert Recipe.from_json(resolved.to_json()) == resolved


@pytest.mark.parametrize("text, msg", [
    ('{"mode": "int4"}', "unknown mode"),
    ('{"mode": "int8", "io": "int16"}', "io"),
    ('{"mode": "int16x8", "io": "uint8"}', "io"),
    ('{"mode": "int8", "colour": 1}', "unknown field"),
    ('{"mode": "int8", "weight_rounding": "stochastic"}', "weight_rounding"),
    ('{"mode": "dynamic_int8", "min_weight_elements": -1}', "min_weight_elements"),
    ('{"mode": "int8", "overrides": [{"action": "explode"}]}', "override action"),
    ('{"mode": "int8", "overrides": [{"action": "float", "name": "("}]}', "pattern"),
    ("[1, 2]", "object"),
    ("{", "JSON"),
])
def test_bad_recipes_raise_one_line_errors(text, msg):
    with pytest.raises(EdgequantError, match=msg) as e:
        Recipe.from_json(text)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("wr", ["minmax", "mse"])
def test_weight_range_round_trips_through_json(wr):
    import json

    r = Recipe.int8(weight_range=wr)
    assert json.loads(r.to_json())["weight_range"] == wr
    assert Recipe.from_json(r.to_json()) == r


def test_weight_range_auto_is_mse_only_with_nearest_rounding_and_rejects_unknown_names():
    for m in MODES:
        r = Recipe.preset(m)
        assert r.weight_range == "auto"
        assert r.resolved(has_data=False).weight_range == ("mse" if m == "float16" else "minmax")  # balanced
        assert r.resolved(has_data=True).weight_range == ("mse" if m == "float16" else "minmax")  # GPTQ: minmax
        assert Recipe.preset(m, weight_range="minmax").resolved(has_data=False).weight_range == "minmax"
        assert Recipe.preset(m, weight_rounding="nearest").resolved(has_data=True).weight_range == "mse"
        assert Recipe.preset(m, weight_rounding="balanced").resolved(has_data=True).weight_range == "minmax"
    with pytest.raises(EdgequantError, match="weight_range") as e:
        Recipe.from_json('{"mode": "int8", "weight_range": "median"}')
    assert "\n" not in str(e.value)


def test_a_name_pattern_also_finds_the_op_type_ignoring_case():
    r = Recipe.int8().keep_float("softmax")
    assert r.action_for("SOFTMAX", ["StatefulPartitionedCall:0"]) == {"float"}
    assert r.action_for("LOG_SOFTMAX", ["y"]) == {"float"}
    assert r.action_for("FULLY_CONNECTED", ["softmax_input"]) == {"float"}  # a tensor name, as before
    assert r.action_for("FULLY_CONNECTED", ["Softmax_input"]) == set()  # tensor names stay case-sensitive


@pytest.mark.parametrize("text, message", [
    ('{"per_channel": "no"}', "per_channel must be true or false, got 'no'"),
    ('{"batch_size": 3.5}', "batch_size must be an integer"),
    ('{"batch_size": "32"}', "batch_size must be an integer, got '32'"),
    ('{"observer": "bogus"}', "unknown observer 'bogus' \\(choose from entropy, minmax"),
    ('{"min_weight_elements": true}', "min_weight_elements must be an integer"),
    ('{"overrides": "float"}', "overrides must be a list of objects"),
    ('{"overrides": [{"action": "float", "op": "CONV2D"}]}', "not a TFLite builtin op type; did you mean CONV_2D?"),
    ('{"overrides": [{"action": "float"}]}', "needs an op type or a name pattern"),
    ('{"overrides": [{"action": "float", "nme": "x"}]}', "an override takes action, op and name"),
    ('{"overrides": [{"action": "float", "name": "("}]}', "bad name pattern '\\('"),
])
def test_bad_recipe_json_is_one_clear_error(text, message):
    with pytest.raises(EdgequantError, match=message):
        Recipe.from_json(text)


def test_overrides_given_as_a_list_are_kept_as_a_tuple():
    from edgequant.quantizer.recipe import Override

    r = Recipe(overrides=[Override("per_tensor")])
    assert r.overrides == (Override("per_tensor"),) and Recipe.from_json(r.to_json()) == r


def test_io_defaults_to_what_the_mode_uses_however_the_recipe_is_made():
    for mode in MODES:
        assert Recipe(mode=mode) == Recipe.preset(mode), mode
    assert [Recipe(mode=m).io for m in MODES] == ["float", "float", "float", "int8", "int16"]
