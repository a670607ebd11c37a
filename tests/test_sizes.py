"""The size rules against PyTorch's documented formulas and a direct count of windows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import sizes
from cnncalc.errors import InputError
from cnncalc.sizes import PadSpec, layer_shape, make_spec


def pad(lo: int, hi: int | None = None) -> PadSpec:
    return PadSpec(lo=lo, hi=lo if hi is None else hi)


def count_windows(W: int, K: int, lo: int, hi: int, s: int, d: int) -> int:
    """Slide a dilated window over the padded input and count where it fits."""
    padded = W + lo + hi
    span = d * (K - 1) + 1
    return sum(1 for start in range(0, padded, s) if start + span <= padded)


# (W, K, lo, hi, s, d) -> expected output, each derived by hand from the formula in PyTorch's docs.
CONV_CASES = [
    # worksheet 9.2 (a) and (b)
    ((9, 3, 0, 0, 1, 1), 7),
    ((9, 3, 1, 1, 2, 1), 5),
    # Conv2d docs example, height: (50 + 2*4 - 3*(3-1) - 1)//2 + 1 = 26; width: (100 + 4 - 4 - 1)//1 + 1 = 100
    ((50, 3, 4, 4, 2, 3), 26),
    ((100, 5, 2, 2, 1, 1), 100),
    # Conv3d docs example: (10,50,100), K=(3,5,2), s=(2,1,1), p=(4,2,0) -> (8, 50, 99)
    ((10, 3, 4, 4, 2, 1), 8),
    ((100, 2, 0, 0, 1, 1), 99),
    # uneven stride: (10 - 3)//2 + 1 = 4, one position left over
    ((10, 3, 0, 0, 2, 1), 4),
    # dilation 2 on a length-7 input: span 5 -> 3 windows
    ((7, 3, 0, 0, 1, 2), 3),
    # asymmetric padding 0:2 with stride 3: (8 + 2 - 3)//3 + 1 = 3
    ((8, 3, 0, 2, 3, 1), 3),
    # kernel exactly the padded input
    ((3, 5, 1, 1, 1, 1), 1),
]


@pytest.mark.parametrize("args,expected", CONV_CASES)
def test_window_count_matches_documented_cases(args, expected):
    assert sizes.window_count(*args) == expected


def test_conv2d_docs_example_through_layer_shape():
    spec = make_spec(W=[50, 100], K=[3, 5], pad=[pad(4), pad(2)], s=[2, 1], d=[3, 1])
    assert layer_shape(spec).output == (26, 100)


def test_conv3d_docs_example_through_layer_shape():
    spec = make_spec(W=[10, 50, 100], K=[3, 5, 2], pad=[pad(4), pad(2), pad(0)], s=[2, 1, 1])
    assert layer_shape(spec).output == (8, 50, 99)


@settings(max_examples=300, deadline=None)
@given(
    W=st.integers(1, 60),
    K=st.integers(1, 9),
    lo=st.integers(0, 6),
    hi=st.integers(0, 6),
    s=st.integers(1, 7),
    d=st.integers(1, 4),
)
def test_rule_equals_direct_count_of_window_positions(W, K, lo, hi, s, d):
    span = d * (K - 1) + 1
    if span > W + lo + hi:
        with pytest.raises(InputError):
            layer_shape(make_spec(W=[W], K=[K], pad=[pad(lo, hi)], s=[s], d=[d]))
        return
    result = layer_shape(make_spec(W=[W], K=[K], pad=[pad(lo, hi)], s=[s], d=[d]))
    dim = result.dims[0]
    assert dim.output == count_windows(W, K, lo, hi, s, d)
    # the remainder is exactly what lies beyond the last window's reach
    last_end = (dim.output - 1) * s + span
    assert dim.remainder == W + lo + hi - last_end
    assert 0 <= dim.remainder < s


# --- padding words -------------------------------------------------------


@pytest.mark.parametrize(
    "K,d,expected",
    [
        (3, 1, (1, 1)),
        (4, 1, (1, 2)),  # even kernel: PyTorch puts the odd one on the right
        (2, 1, (0, 1)),
        (4, 2, (3, 3)),  # d(K-1) = 6
        (2, 3, (1, 2)),  # d(K-1) = 3
    ],
)
def test_same_padding_is_total_dilated_span_with_extra_on_the_right(K, d, expected):
    assert sizes.same_padding(K, d) == expected


@pytest.mark.parametrize("W,K,d", [(9, 4, 1), (10, 2, 1), (7, 3, 2), (5, 1, 1)])
def test_same_keeps_the_size_at_stride_one(W, K, d):
    spec = make_spec(W=[W], K=[K], pad=[PadSpec(word="same")], d=[d])
    assert layer_shape(spec).output == (W,)


def test_same_with_stride_two_is_refused_and_suggests_tf():
    spec = make_spec(W=[9], K=[3], pad=[PadSpec(word="same")], s=[2])
    with pytest.raises(InputError, match="--same-mode tf"):
        layer_shape(spec)


@pytest.mark.parametrize(
    "W,K,s,expected_out,expected_pad",
    [
        (9, 3, 2, 5, (1, 1)),  # ceil(9/2)=5, total (5-1)*2+3-9 = 2
        (10, 3, 2, 5, (0, 1)),  # total (5-1)*2+3-10 = 1 -> extra on the right
        (10, 1, 2, 5, (0, 0)),  # total would be negative -> 0
        (7, 4, 3, 3, (1, 2)),  # ceil(7/3)=3, total 2*3+4-7 = 3
    ],
)
def test_tf_same(W, K, s, expected_out, expected_pad):
    spec = make_spec(W=[W], K=[K], pad=[PadSpec(word="same")], s=[s], same_mode="tf")
    dim = layer_shape(spec).dims[0]
    assert (dim.output, (dim.pad_lo, dim.pad_hi)) == (expected_out, expected_pad)


def test_full_padding_gives_W_plus_K_minus_1():
    spec = make_spec(W=[9], K=[3], pad=[PadSpec(word="full")])
    assert layer_shape(spec).output == (11,)


def test_valid_is_zero_padding():
    spec = make_spec(W=[9], K=[3], pad=[PadSpec(word="valid")], s=[2])
    assert layer_shape(spec).dims[0].pad_lo == 0
    assert layer_shape(spec).output == (4,)


# --- transposed ----------------------------------------------------------


@pytest.mark.parametrize(
    "args,expected",
    [
        # (W-1)s - 2p + d(K-1) + op + 1
        ((3, 3, 1, 1, 2, 1, 1), 6),
        ((5, 3, 0, 0, 1, 1, 0), 7),
        ((4, 4, 1, 1, 2, 1, 0), 8),
        ((2, 3, 0, 0, 2, 2, 1), 8),  # 2 + 4 + 1 + 1
    ],
)
def test_transposed_size(args, expected):
    assert sizes.transposed_size(*args) == expected


def test_transposed_output_padding_must_be_below_stride_or_dilation():
    ok = make_spec(W=[3], K=[3], pad=[pad(1)], s=[1], d=[2], output_padding=[1], kind="transposed")
    assert layer_shape(ok).output == (6,)  # op < d is enough
    bad = make_spec(W=[3], K=[3], pad=[pad(1)], s=[2], output_padding=[2], kind="transposed")
    with pytest.raises(InputError, match="--output-padding 2"):
        layer_shape(bad)


@settings(max_examples=200, deadline=None)
@given(W=st.integers(1, 30), K=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4), d=st.integers(1, 3))
def test_transposed_inverts_the_forward_size(W, K, p, s, d):
    """A conv mapping the transposed output back gives W again (the defining property)."""
    out = sizes.transposed_size(W, K, p, p, s, d, 0)
    if out < 1 or d * (K - 1) + 1 > out + 2 * p:
        return
    assert sizes.window_count(out, K, p, p, s, d) == W


# --- pooling -------------------------------------------------------------


@pytest.mark.parametrize(
    "W,K,lo,s,ceil,expected",
    [
        (5, 2, 1, 2, True, 3),  # ceil gives 4, but the 4th window would start in the right padding
        (5, 2, 0, 2, True, 3),  # ceil((5-2)/2)+1 = 3: last window overhangs the end
        (5, 2, 0, 2, False, 2),
        (6, 3, 1, 2, True, 4),  # ceil(5/2)+1 = 4, start 6 < 6+1 -> kept
        (7, 3, 1, 3, True, 3),  # ceil(6/3)+1 = 3, start 6 < 8
        (4, 2, 1, 2, True, 3),  # ceil(4/2)+1 = 3, start 4 < 5
    ],
)
def test_pool_ceil_mode(W, K, lo, s, ceil, expected):
    spec = make_spec(W=[W], K=[K], pad=[pad(lo)], s=[s], kind="pool", pool="max", ceil_mode=ceil)
    assert layer_shape(spec).output == (expected,)


@settings(max_examples=300, deadline=None)
@given(W=st.integers(1, 40), K=st.integers(1, 6), lo=st.integers(0, 3), s=st.integers(1, 5))
def test_pool_ceil_mode_equals_enumerating_window_starts(W, K, lo, s):
    """Ceil mode keeps a window whose start is inside input + left pad and that overhangs the
    padded end by less than one stride."""
    if 2 * lo > K or K > W + 2 * lo:
        return
    padded = W + 2 * lo
    starts = [t for t in range(0, padded, s) if t + K - padded < s and t < W + lo]
    spec = make_spec(W=[W], K=[K], pad=[pad(lo)], s=[s], kind="pool", pool="max", ceil_mode=True)
    assert layer_shape(spec).output == (len(starts),)


def test_pool_stride_defaults_to_kernel():
    spec = make_spec(W=[8], K=[2], kind="pool", pool="max")
    assert layer_shape(spec).output == (4,)


def test_pool_padding_at_most_half_the_kernel():
    spec = make_spec(W=[8], K=[2], pad=[pad(2)], kind="pool", pool="max")
    with pytest.raises(InputError, match="at most half"):
        layer_shape(spec)


def test_avg_pool_has_no_dilation():
    spec = make_spec(W=[8], K=[2], d=[2], kind="pool", pool="avg")
    with pytest.raises(InputError, match="no dilation"):
        layer_shape(spec)


def test_same_is_not_a_pool_padding():
    spec = make_spec(W=[8], K=[2], pad=[PadSpec(word="same")], kind="pool", pool="max")
    with pytest.raises(InputError, match="not defined for pooling"):
        layer_shape(spec)


# --- symbolic ------------------------------------------------------------


def test_symbolic_general_formula_of_the_worksheet():
    import sympy

    result = layer_shape(make_spec(W=["W"], K=["K"], pad=[PadSpec(lo="p", hi="p")], s=["s"]))
    W, K, p, s = (sympy.Symbol(n, integer=True, positive=True) for n in "WKps")
    p = sympy.Symbol("p", integer=True, nonnegative=True)
    assert result.symbolic
    assert sympy.simplify(result.output[0] - (sympy.floor((W + 2 * p - K) / s) + 1)) == 0
    # substituting the worksheet's numbers gives the numeric answer
    assert result.output[0].subs({W: 9, K: 3, p: 1, s: 2}) == 5


def test_mixed_symbolic_and_numbers():
    result = layer_shape(make_spec(W=["W"], K=[3]))
    assert str(result.output[0]) == "W - 2"


def test_symbolic_ceil_mode_is_refused():
    with pytest.raises(InputError, match="numeric"):
        layer_shape(make_spec(W=["W"], K=[2], kind="pool", pool="max", ceil_mode=True))


# --- validation ----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(W=[9], K=[3], s=[0]), "--s 0"),
        (dict(W=[9], K=[3], d=[0]), "--d 0"),
        (dict(W=[9], K=[0]), "--K 0"),
        (dict(W=[0], K=[1]), "--W 0"),
        (dict(W=[9], K=[3], pad=[pad(-1)]), "negative"),
        (dict(W=[2], K=[5]), r"--K 5 is larger than the padded input 2 \+ 0 \+ 0 = 2"),
        (dict(W=[4], K=[3], d=[2]), "spans 5"),
        (dict(W=[9, 9], K=[3, 3, 3]), "--K has 3 entries but --W has 2"),
        (dict(W=[9, 9, 9, 9], K=[3]), "at most 3"),
        (dict(W=[9], K=[3], output_padding=[1]), "only applies to --transposed"),
    ],
)
def test_invalid_layers_are_refused_with_the_option_named(kwargs, match):
    with pytest.raises(InputError, match=match):
        layer_shape(make_spec(**kwargs))


def test_scalars_broadcast_over_dimensions():
    result = layer_shape(make_spec(W=[32, 16], K=[3], pad=[pad(1)], s=[2]))
    assert result.output == (16, 8)


# --- PyTorch itself, when installed ----------------------------------------


def _torch_or_error(fn):
    try:
        return fn()
    except RuntimeError:
        return "error"


def _ours_or_error(spec):
    try:
        return layer_shape(spec).output[0]
    except InputError:
        return "error"


@settings(max_examples=150, deadline=None)
@given(W=st.integers(1, 20), K=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4), d=st.integers(1, 3))
def test_conv_agrees_with_torch_conv1d(W, K, p, s, d):
    torch = pytest.importorskip("torch")
    expected = _torch_or_error(
        lambda: torch.nn.functional.conv1d(torch.zeros(1, 1, W), torch.zeros(1, 1, K), stride=s, padding=p, dilation=d).shape[-1]
    )
    assert _ours_or_error(make_spec(W=[W], K=[K], pad=[pad(p)], s=[s], d=[d])) == expected


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=150, deadline=None)
@given(W=st.integers(1, 20), K=st.integers(1, 6), d=st.integers(1, 3))
def test_same_agrees_with_torch_padding_same(W, K, d):
    torch = pytest.importorskip("torch")
    expected = _torch_or_error(
        lambda: torch.nn.functional.conv1d(torch.zeros(1, 1, W), torch.zeros(1, 1, K), padding="same", dilation=d).shape[-1]
    )
    assert _ours_or_error(make_spec(W=[W], K=[K], pad=[PadSpec(word="same")], d=[d])) == expected


@settings(max_examples=200, deadline=None)
@given(
    W=st.integers(1, 20), K=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4), d=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_max_pool_agrees_with_torch(W, K, p, s, d, ceil):
    torch = pytest.importorskip("torch")
    expected = _torch_or_error(
        lambda: torch.nn.functional.max_pool1d(
            torch.zeros(1, 1, W), K, stride=s, padding=p, dilation=d, ceil_mode=ceil
        ).shape[-1]
    )
    spec = make_spec(W=[W], K=[K], pad=[pad(p)], s=[s], d=[d], kind="pool", pool="max", ceil_mode=ceil)
    assert _ours_or_error(spec) == expected


@settings(max_examples=150, deadline=None)
@given(W=st.integers(1, 20), K=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4), ceil=st.booleans())
def test_avg_pool_agrees_with_torch(W, K, p, s, ceil):
    torch = pytest.importorskip("torch")
    expected = _torch_or_error(
        lambda: torch.nn.functional.avg_pool1d(torch.zeros(1, 1, W), K, stride=s, padding=p, ceil_mode=ceil).shape[-1]
    )
    spec = make_spec(W=[W], K=[K], pad=[pad(p)], s=[s], kind="pool", pool="avg", ceil_mode=ceil)
    assert _ours_or_error(spec) == expected


@settings(max_examples=150, deadline=None)
@given(
    W=st.integers(1, 12), K=st.integers(1, 5), p=st.integers(0, 3), s=st.integers(1, 4), d=st.integers(1, 3),
    op=st.integers(0, 3),
)
def test_transposed_agrees_with_torch(W, K, p, s, d, op):
    torch = pytest.importorskip("torch")
    expected = _torch_or_error(
        lambda: torch.nn.functional.conv_transpose1d(
            torch.zeros(1, 1, W), torch.zeros(1, 1, K), stride=s, padding=p, output_padding=op, dilation=d
        ).shape[-1]
    )
    spec = make_spec(W=[W], K=[K], pad=[pad(p)], s=[s], d=[d], output_padding=[op], kind="transposed")
    assert _ours_or_error(spec) == expected
