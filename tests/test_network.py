"""Whole-network arithmetic: known model totals, receptive fields by hand, spec errors, solving."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cnncalc import sizes
from cnncalc.errors import InputError
from cnncalc.network import network, parse_input_shape, parse_spec, solve_output_padding, solve_padding
from cnncalc.sizes import PadSpec, make_spec

VGG16 = """
conv(64,3,p=1); relu; conv(64,3,p=1); relu; maxpool(2)
conv(128,3,p=1); relu; conv(128,3,p=1); relu; maxpool(2)
conv(256,3,p=1); relu; conv(256,3,p=1); relu; conv(256,3,p=1); relu; maxpool(2)
conv(512,3,p=1); relu; conv(512,3,p=1); relu; conv(512,3,p=1); relu; maxpool(2)
conv(512,3,p=1); relu; conv(512,3,p=1); relu; conv(512,3,p=1); relu; maxpool(2)
adaptiveavgpool(7); flatten
linear(4096); relu; dropout; linear(4096); relu; dropout; linear(1000)
"""

ALEXNET = """
conv(64,11,s=4,p=2); relu; maxpool(3,s=2)
conv(192,5,p=2); relu; maxpool(3,s=2)
conv(384,3,p=1); relu; conv(256,3,p=1); relu; conv(256,3,p=1); relu; maxpool(3,s=2)
adaptiveavgpool((6,6)); flatten
dropout; linear(4096); relu; dropout; linear(4096); relu; linear(1000)
"""


def run(spec: str, input_shape: str = "3x224x224"):
    return network(parse_input_shape(input_shape), parse_spec(spec))


def test_vgg16_parameters_and_shapes():
    result = run(VGG16)
    assert result.total_params == 138_357_544
    convs = [row.output for row in result.layers if row.name == "maxpool"]
    assert convs == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    assert result.layers[-1].output == (1000,)


def test_alexnet_parameters_and_shapes():
    result = run(ALEXNET)
    assert result.total_params == 61_100_840
    shapes = [row.output for row in result.layers if row.name in ("conv", "maxpool")]
    assert shapes == [(64, 55, 55), (64, 27, 27), (192, 27, 27), (192, 13, 13), (384, 13, 13),
                      (256, 13, 13), (256, 13, 13), (256, 6, 6)]


def test_resnet_stem():
    last = run("conv(64,7,s=2,p=3); relu; maxpool(3,s=2,p=1)").layers[-1]
    assert last.output == (64, 56, 56)
    assert [f.rf for f in last.fields] == [11, 11]
    assert [f.jump for f in last.fields] == [4, 4]


def test_macs_of_a_single_conv_by_hand():
    # 8 output channels × 3 input channels × 3×3 taps at each of 30×30 positions
    row = run("conv(8,3)", "3x32x32").layers[0]
    assert row.params == 8 * 3 * 9 + 8
    assert row.macs == 8 * 3 * 9 * 30 * 30


def test_grouped_conv_and_no_bias():
    row = run("conv(8,3,groups=4,bias=false)", "4x10x10").layers[0]
    assert row.params == 8 * 1 * 9


def test_transposed_conv_macs_are_over_input_positions():
    row = run("convT(4,3,s=2,p=1,op=1)", "2x5x5").layers[0]
    assert row.output == (4, 10, 10)
    assert row.params == 2 * 4 * 9 + 4
    assert row.macs == 2 * 4 * 9 * 25
    assert row.fields is None  # stated: no sliding-window field after a transposed layer


def test_batchnorm_has_two_parameters_per_channel():
    assert run("batchnorm", "16x4x4").layers[0].params == 32


@pytest.mark.parametrize(
    "spec,rf,jump,start",
    [
        # r = Σ (k_l − 1)·Π s_i + 1: 2·1 + 2·1 + 2·2 + 1 = 9
        ("conv(1,3); conv(1,3,s=2); conv(1,3)", 9, 2, Fraction(4)),
        # dilation: kernels of span 5 then 9 -> 1 + 4 + 8 = 13
        ("conv(1,3,d=2); conv(1,3,d=4)", 13, 1, Fraction(6)),
        # padding moves the centre: ((3−1)/2 − 1)·1 = 0
        ("conv(1,3,p=1)", 3, 1, Fraction(0)),
        # an even kernel centres between pixels
        ("maxpool(2)", 2, 2, Fraction(1, 2)),
        # pool after a strided conv: 3 + (3−1)·2 = 7, jump 4, start 1 + 1·2 = 3
        ("conv(1,3,s=2); maxpool(3,s=2)", 7, 4, Fraction(3)),
    ],
)
def test_receptive_field_by_hand(spec, rf, jump, start):
    field = run(spec, "1x64").layers[-1].fields[0]
    assert (field.rf, field.jump, field.start) == (rf, jump, start)


def test_adaptive_pool_that_divides_evenly_is_a_pool():
    fields = run("adaptiveavgpool(4)", "1x16x16").layers[0].fields
    assert fields[0].rf == 4 and fields[0].jump == 4


def test_symbolic_input_flows_through():
    import sympy

    result = run("conv(64,3,p=1); maxpool(2); flatten; linear(10)", "3xHxW")
    H, W = sympy.symbols("H W", integer=True, positive=True)
    assert result.layers[1].output[1] == sympy.floor(H / 2)
    assert result.total_params.subs({H: 32, W: 32}) == run(
        "conv(64,3,p=1); maxpool(2); flatten; linear(10)", "3x32x32"
    ).total_params


def test_warnings_for_unused_positions():
    row = run("conv(1,3,s=2)", "1x10").layers[0]
    assert any("unused" in w for w in row.warnings)


@pytest.mark.parametrize(
    "spec,input_shape,match",
    [
        ("bogus(1)", "3x8x8", "layer 1 .*unknown layer 'bogus'"),
        ("relu; conv(8)", "3x8x8", "layer 2 .*needs k"),
        ("conv(8,3,wat=1)", "3x8x8", "no argument 'wat'"),
        ("conv(8,3,groups=2)", "3x8x8", "groups=2 must divide the input channels"),
        ("conv(8,3); conv(8,3); conv(8,3)", "3x5x5", "layer 3 .*larger than the padded input"),
        ("linear(10)", "3x8x8", "flat input"),
        ("flatten; conv(8,3)", "3x8x8", "needs a C×H×W input"),
        ("conv(8,(3,3,3))", "3x8x8", "3 entries but the input has 2"),
        ("conv(8 3)", "3x8x8", "expected ','"),
        ("conv(8,3", "3x8x8", "parentheses"),
        ("conv(8,3,bias=maybe)", "3x8x8", "true or false"),
        ("", "3x8x8", "empty"),
    ],
)
def test_malformed_specs_name_the_layer(spec, input_shape, match):
    with pytest.raises(InputError, match=match):
        run(spec, input_shape)


@pytest.mark.parametrize("text", ["224x224x3x3x3", "3", "3x0x4", "3x-1", "3xx4"])
def test_bad_input_shapes(text):
    with pytest.raises(InputError, match="--input"):
        parse_input_shape(text)


def test_solve_padding_lists_every_padding_reaching_the_target():
    solved = solve_padding(make_spec(W=[32], K=[3], s=[2]), 16)
    pads = [(s.lo, s.hi) for s in solved.solutions]
    assert pads == [(1, 1), (0, 1)]
    # every listed padding really gives 16, and no other small padding does
    for lo in range(6):
        for hi in range(6):
            out = sizes.window_count(32, 3, lo, hi, 2, 1)
            listed = (lo, hi) in pads
            if abs(lo - hi) <= 1 and lo <= hi:
                assert listed == (out == 16), (lo, hi)


def test_solve_padding_none_exists():
    # a pool's padding is capped at half the kernel, so 10 can never come out of 8 with K=2
    solved = solve_padding(make_spec(W=[8], K=[2], kind="pool", pool="max"), 10)
    assert solved.solutions == ()


def test_solve_output_padding():
    spec = make_spec(W=[8], K=[3], pad=[PadSpec(lo=1, hi=1)], s=[2], kind="transposed")
    assert [s.lo for s in solve_output_padding(spec, 16).solutions] == [1]
    assert solve_output_padding(spec, 18).solutions == ()  # would need output padding 3 >= stride


# --- against torch modules, when installed -----------------------------------


def _torch_model(spec: str):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    table = {
        "conv(64,7,s=2,p=3)": nn.Conv2d(3, 64, 7, stride=2, padding=3),
        "relu": nn.ReLU(),
        "maxpool(3,s=2,p=1)": nn.MaxPool2d(3, stride=2, padding=1),
        "conv(128,3,p=1,groups=2,bias=false)": nn.Conv2d(64, 128, 3, padding=1, groups=2, bias=False),
        "batchnorm": nn.BatchNorm2d(128),
        "convT(32,4,s=2,p=1)": nn.ConvTranspose2d(128, 32, 4, stride=2, padding=1),
        "avgpool(2,ceil=true)": nn.AvgPool2d(2, ceil_mode=True),
        "adaptiveavgpool(3)": nn.AdaptiveAvgPool2d(3),
        "flatten": nn.Flatten(),
        "linear(10)": nn.Linear(32 * 9, 10),
    }
    return torch, [table[part.strip()] for part in spec.split(";")]


def test_shapes_and_parameters_agree_with_torch_modules():
    spec = ("conv(64,7,s=2,p=3); relu; maxpool(3,s=2,p=1); conv(128,3,p=1,groups=2,bias=false); batchnorm; "
            "convT(32,4,s=2,p=1); avgpool(2,ceil=true); adaptiveavgpool(3); flatten; linear(10)")
    torch, modules = _torch_model(spec)
    ours = run(spec, "3x75x75")
    x = torch.zeros(1, 3, 75, 75)
    for module, row in zip(modules, ours.layers):
        x = module(x)
        assert tuple(x.shape[1:]) == row.output, row.text
        assert sum(p.numel() for p in module.parameters()) == row.params, row.text


def test_solve_with_a_huge_stride_is_computed_not_searched():
    solved = solve_padding(make_spec(W=[16], K=[3], s=[10**21]), 16)
    assert len(solved.solutions) == 10
    assert len(solved.solutions) + solved.more == 10**21  # every total in a range of s works
    first = solved.solutions[0]
    assert sizes.window_count(16, 3, first.lo, first.hi, 10**21, 1) == 16


def test_symbolic_networks_are_bounded():
    from cnncalc.network import MAX_SYMBOLIC_LAYERS

    with pytest.raises(InputError, match=f"the limit is {MAX_SYMBOLIC_LAYERS}"):
        run("; ".join(["relu"] * (MAX_SYMBOLIC_LAYERS + 1)), "3xHxW")
    assert len(run("; ".join(["relu"] * (MAX_SYMBOLIC_LAYERS + 1)), "3x8x8").layers) == MAX_SYMBOLIC_LAYERS + 1
