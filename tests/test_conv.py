"""The convolution core: PyTorch semantics worked by hand, the worksheet, and properties.

Expected values in the tables below were computed by hand from the definition
in the PyTorch docs (Conv1d/Conv2d: cross-correlation, zero padding, padding
'same' puts the odd pad on the right), not taken from the implementation.
"""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnncalc import conv, sizes
from cnncalc.errors import InputError
from cnncalc.literals import ArrayValue, parse_array, parse_padding
from cnncalc.render.conv_view import expr_text
from cnncalc.sizes import PadSpec
from conftest import HANG_GUARD


def exact(values) -> ArrayValue:
    return parse_array(str(values).replace(" ", ""), "--x")


def floats(values) -> ArrayValue:
    data = np.asarray(values, dtype=np.float64)
    return ArrayValue(data, "float", data.shape)


def run(x, k, p="0", s=(1,), d=(1,), flip=False, method="auto", **kw):
    return conv.convolve(x, k, pad=parse_padding(p, "--p", allow_names=False), stride=s, dilation=d, flip=flip,
                         method=method, **kw)


# --- PyTorch semantics, by hand ----------------------------------------------

HAND_CASES = [
    # (x, k, padding, stride, dilation, expected)
    ("1D valid", [1, 2, 3, 4, 5], [1, 0, -1], "0", (1,), (1,), [-2, -2, -2]),
    ("1D stride 2", [1, 2, 3, 4, 5, 6, 7], [1, 1], "0", (2,), (1,), [3, 7, 11]),
    ("1D pad 1", [1, 2, 3], [1, 1, 1], "1", (1,), (1,), [3, 6, 5]),
    ("1D asymmetric 2:0", [1, 2, 3], [1, 10], "2:0", (1,), (1,), [0, 10, 21, 32]),
    ("1D same, even kernel: odd pad right", [1, 2, 3, 4], [1, 2], "same", (1,), (1,), [5, 8, 11, 4]),
    ("1D same, K=4: pads 1 left 2 right", [1, 2, 3, 4, 5], [1, 1, 1, 1], "same", (1,), (1,), [6, 10, 14, 12, 9]),
    ("1D dilation 2", [1, 2, 3, 4, 5, 6, 7], [1, 1, 1], "0", (1,), (2,), [9, 12, 15]),
    ("1D dilation 3, pad 1, stride 2", [1, 2, 3, 4, 5, 6], [1, -1], "1", (2,), (3,), [-3, -3, 4]),
    ("1D full", [1, 2, 3], [1, 2], "full", (1,), (1,), [2, 5, 8, 3]),
    ("1D pad larger than kernel", [1, 2], [1, 1], "3", (1,), (1,), [0, 0, 1, 3, 2, 0, 0]),
    ("2D valid", [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 2], [3, 4]], "0", (1,), (1,), [[37, 47], [67, 77]]),
    ("2D pad 1 stride 2", [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 1], [1, 1]], "1", (2,), (1,), [[1, 5], [11, 28]]),
    (
        "2D per-axis stride (2,1), dilation (1,2)",
        [[5 * i + j for j in range(5)] for i in range(4)],
        [[1, 1]],
        "0",
        (2, 1),
        (1, 2),
        [[2, 4, 6], [22, 24, 26]],
    ),
    ("2D asymmetric per axis 1:0,0:1", [[1, 2], [3, 4]], [[1, 1], [1, 1]], "1:0,0:1", (1,), (1,), [[3, 2], [10, 6]]),
]


@pytest.mark.parametrize("name, x, k, p, s, d, expected", HAND_CASES, ids=[c[0] for c in HAND_CASES])
@pytest.mark.parametrize("engine", ["exact", "direct", "fft"])
def test_pytorch_semantics_by_hand(name, x, k, p, s, d, expected, engine):
    if engine == "exact":
        result = run(exact(x), exact(k), p, s, d)
        assert result.output.tolist() == expected
        assert all(type(v) is int for v in result.output.reshape(-1).tolist())
    else:
        result = run(floats(x), floats(k), p, s, d, method=engine)
        assert result.method == engine
        assert np.allclose(result.output, expected, atol=1e-9)
    assert result.shape == np.asarray(expected).shape


def test_flip_gives_true_convolution():
    x, k = [1, 2, 3, 4], [1, 2, 3]
    assert run(exact(x), exact(k)).output.tolist() == [14, 20]  # 1·1+2·2+3·3, 1·2+2·3+3·4
    assert run(exact(x), exact(k), flip=True).output.tolist() == [10, 16]  # 3·1+2·2+1·3, 3·2+2·3+1·4
    assert np.allclose(run(floats(x), floats(k), flip=True).output, np.convolve(x, k, "valid"))


def test_channels_sum_over_input_channels():
    x = [[1, 2, 3], [10, 20, 30]]  # (C_in=2, W=3)
    k = [[[1, 0], [0, 1]], [[1, 1], [0, 0]]]  # (C_out=2, C_in=2, K=2)
    expected = [[1 + 20, 2 + 30], [1 + 2, 2 + 3]]
    for make in (exact, floats):
        result = run(make(x), make(k))
        assert result.channels == (2, 2)
        assert np.array_equal(np.asarray(result.output, dtype=float), expected)


def test_channels_2d_shape():
    x = floats(np.ones((3, 5, 6)))
    k = floats(np.ones((4, 3, 2, 3)))
    result = run(x, k, p="1")
    assert result.shape == (4, 6, 6)
    assert result.output[0, 2, 2] == 3 * 2 * 3  # interior: every tap meets a 1


def test_tf_same_mode_with_stride():
    result = run(exact([1, 2, 3, 4, 5]), exact([1, 1, 1]), "same", (2,), same_mode="tf")
    # TF SAME: out = ceil(5/2) = 3, total pad 2 → 1 left 1 right: windows (0,1,2) (2,3,4) (4,5,0)
    assert result.output.tolist() == [3, 9, 9]


# --- worksheet 9.2 --------------------------------------------------------------


def test_worksheet_9_2_a():
    result = conv.convolve(parse_array("x1:9", "--x"), parse_array("k1:3", "--k"))
    x = sympy.symbols("x1:10")
    k = sympy.symbols("k1:4")
    assert result.shape == (7,)
    assert result.output[0] == k[0] * x[0] + k[1] * x[1] + k[2] * x[2]
    assert result.output[-1] == k[0] * x[6] + k[1] * x[7] + k[2] * x[8]


def test_worksheet_9_2_b():
    result = conv.convolve(parse_array("x1:9", "--x"), parse_array("k1:3", "--k"), parse_padding("1"), (2,))
    x = sympy.symbols("x1:10")
    k = sympy.symbols("k1:4")
    assert result.shape == (5,)
    assert result.output[0] == k[1] * x[0] + k[2] * x[1]  # k1 meets the pad
    assert result.output[1] == k[0] * x[1] + k[1] * x[2] + k[2] * x[3]
    taps = conv.window(result, (0,))
    assert [t.kernel_index for t in taps] == [(0,), (1,), (2,)]
    assert [t.input_index for t in taps] == [None, (0,), (1,)]


def test_worksheet_9_2_d_is_exact():
    result = conv.convolve(
        parse_array("[[1,2,3],[4,5,6],[7,8,9]]", "--x"), parse_array("1/4*[[1,1],[1,1]]", "--k")
    )
    assert result.kind == "exact"
    assert result.output.tolist() == [[3, 4], [6, 7]]
    assert all(type(v) is int for v in result.output.reshape(-1).tolist())


def test_fraction_results_stay_fractions():
    result = conv.convolve(exact([1, 2]), parse_array("[1/3, 1/3]", "--k"))
    assert result.output.tolist() == [Fraction(1, 1)]
    result = conv.convolve(exact([1, 1]), parse_array("[1/3, 1/6]", "--k"))
    assert result.output.tolist() == [Fraction(1, 2)]


# --- symbolic -----------------------------------------------------------------


def test_padded_zeros_drop_out():
    result = run(parse_array("x1:3", "--x"), parse_array("k1:3", "--k"), "1")
    x1, x2, x3, k1, k2, k3 = sympy.symbols("x1 x2 x3 k1 k2 k3")
    assert list(result.output) == [k2 * x1 + k3 * x2, k1 * x1 + k2 * x2 + k3 * x3, k1 * x2 + k2 * x3]
    assert expr_text(result.output[0]) == "k2*x1 + k3*x2"


def test_symbolic_matches_exact_after_substitution():
    rng = np.random.default_rng(3)
    xs = parse_array("X:4x5", "--x")
    ks = parse_array("K:2x3", "--k")
    sym = run(xs, ks, "1:0,2", (1, 2), (2, 1))
    xv = rng.integers(-5, 6, (4, 5))
    kv = rng.integers(-5, 6, (2, 3))
    values = {s: int(v) for s, v in zip(xs.data.reshape(-1), xv.reshape(-1))}
    values.update({s: int(v) for s, v in zip(ks.data.reshape(-1), kv.reshape(-1))})
    num = run(exact(xv.tolist()), exact(kv.tolist()), "1:0,2", (1, 2), (2, 1))
    assert sym.shape == num.shape
    for a, b in zip(sym.output.reshape(-1), num.output.reshape(-1)):
        assert sympy.sympify(a).subs(values) == b


symbolic_entries = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([Fraction(1, 2), Fraction(-2, 3)]),
    st.sampled_from(["a", "b", "x1", "x2", "k1", "-a", "2*b", "1/4*k1"]),
)


def _entry(e):
    if isinstance(e, str):
        return sympy.sympify(e)  # test-side construction of expected values only
    return e


@settings(max_examples=200, deadline=None)
@given(
    st.lists(symbolic_entries, min_size=1, max_size=6),
    st.lists(symbolic_entries, min_size=1, max_size=3),
    st.integers(0, 2),
    st.integers(1, 2),
)
def test_fast_symbolic_builder_equals_sympy(xs, ks, pad, stride):
    assume(len(xs) + 2 * pad >= len(ks))
    x = np.empty(len(xs), dtype=object)
    x[:] = [_entry(e) for e in xs]
    k = np.empty(len(ks), dtype=object)
    k[:] = [_entry(e) for e in ks]
    result = conv.convolve(ArrayValue(x, "symbolic", x.shape), ArrayValue(k, "symbolic", k.shape),
                           [PadSpec(lo=pad, hi=pad)], (stride,))
    for o, value in enumerate(result.output.tolist()):
        reference = sympy.Add(*[
            sympy.Mul(sympy.sympify(k[j]), sympy.sympify(x[o * stride - pad + j]))
            for j in range(len(ks)) if 0 <= o * stride - pad + j < len(xs)
        ])
        assert value == reference
        assert value.args == reference.args  # same canonical form, not just equal
        assert expr_text(value) == str(reference)


def test_symbolic_10000_is_fast():
    start = time.perf_counter()
    result = conv.convolve(parse_array("x1:10000", "--x"), parse_array("k1:3", "--k"))
    texts = [expr_text(v) for v in result.output.tolist()]
    assert time.perf_counter() - start < HANG_GUARD
    assert texts[-1] == "k1*x9998 + k2*x9999 + k3*x10000"


# --- shapes, limits, errors ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=3),
    st.data(),
)
def test_output_shape_is_always_the_size_rule(W, data):
    n = len(W)
    K = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    s = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    d = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    pads = data.draw(st.lists(st.sampled_from(["0", "1", "2:0", "0:3", "valid", "full", "same"]), min_size=n, max_size=n))
    pad = parse_padding(",".join(pads))
    spec = sizes.make_spec(W=W, K=K, pad=pad, s=s, d=d)
    try:
        expected = sizes.layer_shape(spec).output
    except InputError:
        with pytest.raises(InputError):
            conv.convolve(floats(np.ones(W)), floats(np.ones(K)), pad, s, d)
        return
    assert conv.convolve(floats(np.ones(W)), floats(np.ones(K)), pad, s, d).shape == tuple(expected)


def test_mismatched_dimensions():
    with pytest.raises(InputError, match="2D .*1D"):
        conv.convolve(exact([[1, 2], [3, 4]]), exact([1, 2]))
    with pytest.raises(InputError, match="input channels"):
        conv.convolve(floats(np.ones((2, 5))), floats(np.ones((1, 3, 2))))


def test_per_dimension_option_count():
    with pytest.raises(InputError, match="--s has 2 entries"):
        conv.convolve(exact([1, 2, 3]), exact([1]), stride=(1, 2))


def test_kernel_larger_than_input():
    with pytest.raises(InputError, match="larger than the padded input"):
        conv.convolve(exact([1, 2]), exact([1, 2, 3]))


def test_same_with_stride_is_refused_like_pytorch():
    with pytest.raises(InputError, match="stride 1"):
        run(exact([1, 2, 3, 4]), exact([1, 1]), "same", (2,))


def test_symbolic_work_limit_is_refused_before_work():
    big = ArrayValue(np.empty(10**6, dtype=object), "symbolic", (10**6,))
    start = time.perf_counter()
    with pytest.raises(InputError, match="limit"):
        conv.convolve(big, parse_array("k1:5", "--k"))
    assert time.perf_counter() - start < HANG_GUARD


# --- the float engine -----------------------------------------------------------


def naive(x, k, lo, s, d, out_shape):
    """The definition, one output at a time."""
    y = np.zeros(out_shape)
    for o in itertools.product(*map(range, out_shape)):
        total = 0.0
        for j in itertools.product(*map(range, k.shape)):
            i = tuple(o[a] * s[a] - lo[a] + j[a] * d[a] for a in range(x.ndim))
            if all(0 <= i[a] < x.shape[a] for a in range(x.ndim)):
                total += k[j] * x[i]
        y[o] = total
    return y


def padded_reference(x, k, lo, hi, s, d, out_shape):
    """An independent vectorized form: pad a copy, then add one shifted strided slice per tap."""
    xp = np.pad(x, list(zip(lo, hi)))
    y = np.zeros(out_shape)
    for j in itertools.product(*map(range, k.shape)):
        sl = tuple(slice(j[a] * d[a], j[a] * d[a] + (out_shape[a] - 1) * s[a] + 1, s[a]) for a in range(x.ndim))
        y += k[j] * xp[sl]
    return y


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.data())
def test_float_engines_equal_the_naive_loop(n, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    W = data.draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
    K = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    s = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    d = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    lo = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    hi = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    pad = [PadSpec(lo=a, hi=b) for a, b in zip(lo, hi)]
    x, k = rng.standard_normal(W), rng.standard_normal(K)
    try:
        direct = conv.convolve(floats(x), floats(k), pad, s, d, method="direct")
    except InputError:
        return
    fft = conv.convolve(floats(x), floats(k), pad, s, d, method="fft")
    reference = naive(x, k, lo, s, d, direct.shape)
    assert np.allclose(direct.output, reference, atol=1e-10)
    assert np.allclose(fft.output, reference, atol=1e-10)


@pytest.mark.parametrize(
    "x_shape, k_shape, lo, hi, s, d",
    [
        ((700, 650), (3, 3), (0, 0), (0, 0), (1, 1), (1, 1)),  # numpy.correlate rows, threads
        ((640, 600), (5, 4), (2, 1), (2, 2), (2, 1), (2, 1)),  # rows engine, one row per block
        ((500, 520), (3, 3), (1, 1), (1, 1), (1, 2), (1, 1)),  # slice engine (last-axis stride)
        ((3_000_000,), (3,), (0,), (0,), (1,), (1,)),  # 1D chunks, threads
        ((400_000,), (9,), (4,), (4,), (3,), (2,)),  # 1D slice engine
        ((40, 50, 60), (3, 2, 3), (1, 0, 1), (1, 1, 0), (1, 2, 1), (1, 1, 2)),  # 3D
    ],
)
def test_large_float_cases_equal_an_independent_reference(x_shape, k_shape, lo, hi, s, d):
    rng = np.random.default_rng(7)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    pad = [PadSpec(lo=a, hi=b) for a, b in zip(lo, hi)]
    result = conv.convolve(floats(x), floats(k), pad, s, d, method="direct")
    assert np.allclose(result.output, padded_reference(x, k, lo, hi, s, d, result.shape), atol=1e-9)


def test_fft_and_direct_agree_on_a_large_kernel():
    rng = np.random.default_rng(11)
    x, k = rng.standard_normal((120, 130)), rng.standard_normal((21, 17))
    pad = parse_padding("3:4,same")
    a = conv.convolve(floats(x), floats(k), pad, method="direct")
    b = conv.convolve(floats(x), floats(k), pad, method="fft")
    assert np.allclose(a.output, b.output, atol=1e-9)


def test_fft_with_channels_agrees_with_direct():
    rng = np.random.default_rng(5)
    x, k = rng.standard_normal((3, 20, 22)), rng.standard_normal((2, 3, 5, 4))
    a = conv.convolve(floats(x), floats(k), parse_padding("1"), (2,), method="direct")
    b = conv.convolve(floats(x), floats(k), parse_padding("1"), (2,), method="fft")
    assert a.shape == (2, 9, 11)  # ⌊(20+2−5)/2⌋+1, ⌊(22+2−4)/2⌋+1
    assert np.allclose(a.output, b.output, atol=1e-9)


def test_method_choice():
    small = conv.layer_for((2048, 2048), (3, 3))[0]
    large = conv.layer_for((512, 512), (31, 31))[0]
    assert conv.choose_method(small) == "direct"
    assert conv.choose_method(large) == "fft"


def test_next_fast_size_is_the_smallest_7_smooth_size():
    def smooth(m):
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 3000):
        size = conv.next_fast_size(n)
        assert size >= n and smooth(size)
        assert not any(smooth(m) for m in range(n, size))


def test_exact_and_float_mixed_goes_float():
    result = conv.convolve(floats([1.5, 2.5]), exact([1, 1]))
    assert result.kind == "float" and result.output.tolist() == [4.0]


# --- PyTorch itself, when installed ----------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    for _ in range(40):
        n = int(rng.integers(1, 3))
        W = tuple(int(v) for v in rng.integers(4, 12, n))
        K = tuple(int(v) for v in rng.integers(1, 5, n))
        s = tuple(int(v) for v in rng.integers(1, 3, n))
        d = tuple(int(v) for v in rng.integers(1, 3, n))
        lo = tuple(int(v) for v in rng.integers(0, 3, n))
        hi = tuple(int(v) for v in rng.integers(0, 3, n))
        c_in, c_out = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        x = rng.standard_normal((c_in,) + W)
        k = rng.standard_normal((c_out, c_in) + K)
        try:
            ours = conv.convolve(floats(x), floats(k), [PadSpec(lo=a, hi=b) for a, b in zip(lo, hi)], s, d)
        except InputError:
            continue
        tx = torch.from_numpy(x)[None]
        pads = [v for a in reversed(range(n)) for v in (lo[a], hi[a])]  # F.pad: last axis first
        tx = F.pad(tx, pads)
        fn = F.conv1d if n == 1 else F.conv2d
        theirs = fn(tx, torch.from_numpy(k), stride=s, dilation=d)[0].numpy()
        assert ours.shape == theirs.shape
        assert np.allclose(ours.output, theirs, atol=1e-9)
    # padding='same' with an even kernel, as PyTorch defines it
    x, k = rng.standard_normal((1, 10)), rng.standard_normal((1, 1, 4))
    theirs = F.conv1d(torch.from_numpy(x)[None], torch.from_numpy(k), padding="same")[0].numpy()
    ours = conv.convolve(floats(x), floats(k), parse_padding("same"))
    assert np.allclose(ours.output, theirs, atol=1e-12)


# --- the fast printer of symbolic entries -----------------------------------------

names = st.sampled_from(["a", "b", "k1", "k2", "x1", "x10", "x2", "y"])
coefficients = st.one_of(st.integers(-4, 4), st.sampled_from([Fraction(1, 2), Fraction(-3, 4), Fraction(5, 3)]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(coefficients, st.lists(names, max_size=2, unique=True)), min_size=1, max_size=5))
def test_expr_text_is_sympys_str(terms):
    expression = sympy.Add(*[
        sympy.Mul(sympy.Rational(c.numerator, c.denominator) if isinstance(c, Fraction) else sympy.Integer(c),
                  *[sympy.Symbol(n) for n in ns])
        for c, ns in terms
    ])
    assert expr_text(expression) == str(expression)


def test_expr_text_falls_back_for_other_expressions():
    x = sympy.Symbol("x")
    for expression in (x**2 + 1, sympy.sin(x), 2.5 * x, x**2 * sympy.Symbol("y")):
        assert expr_text(expression) == str(expression)


# --- QA fixes: limits that keep every run short, option names in size errors ---------


def test_size_errors_name_conv_options():
    with pytest.raises(InputError) as info:
        run(exact([1, 2, 3]), exact([1, 2, 3, 4]))
    assert str(info.value) == "--k size 4 is larger than the padded input 3 + 0 + 0 = 3"
    with pytest.raises(InputError, match=r"^--k size 2 with --d 3 spans 4, which is larger"):
        run(exact([1, 2, 3]), exact([1, 2]), d=(3,))


def test_symbolic_limit_is_lowered_and_stated():
    assert conv.MAX_SYMBOLIC_TERMS <= 100_000
    start = time.perf_counter()
    with pytest.raises(InputError, match=f"limit is {conv.MAX_SYMBOLIC_TERMS} terms"):
        conv.convolve(parse_array("x1:100000", "--x"), parse_array("k1:10", "--k"))
    with pytest.raises(InputError, match=f"limit is {conv.MAX_SYMBOLIC_TERMS} terms"):
        conv.convolve(parse_array("X:316x316", "--x"), parse_array("K:3x3", "--k"))
    assert time.perf_counter() - start < HANG_GUARD


def objects(values) -> ArrayValue:
    data = np.empty(len(values), dtype=object)
    data[:] = list(values)
    return ArrayValue(data, "exact", (len(values),))


def test_exact_integers_at_10_4_by_10_4_stay_fast():
    start = time.perf_counter()
    result = conv.convolve(objects([1] * 10_999), objects([2] * 10_000))
    assert time.perf_counter() - start < HANG_GUARD
    assert result.shape == (1000,) and set(result.output.tolist()) == {20_000}
    assert all(type(v) is int for v in result.output.tolist())


def test_exact_fractions_are_weighed_not_just_counted():
    start = time.perf_counter()
    with pytest.raises(InputError, match="exact limit"):
        conv.convolve(objects([Fraction(1, 3)] * 10_999), objects([Fraction(1, 7)] * 10_000))
    # coprime denominators everywhere: the common denominator is huge, so refused before work
    primes = list(sympy.primerange(2, 100_000))
    with pytest.raises(InputError, match="exact limit"):
        conv.convolve(objects([Fraction(1, p) for p in primes[:3000]]), objects([1] * 100))
    assert time.perf_counter() - start < HANG_GUARD


def test_exact_fractions_are_exact_through_the_common_denominator():
    primes = list(sympy.primerange(2, 1000))
    xs = [Fraction(i + 1, p) for i, p in enumerate(primes[:40])]
    ks = [Fraction(1, 4), Fraction(-2, 3), 5]
    result = conv.convolve(objects(xs), objects(ks), pad=parse_padding("1"), stride=(2,))
    expected = []
    for o in range(result.shape[0]):
        total = Fraction(0)
        for j, kv in enumerate(ks):
            i = o * 2 - 1 + j
            if 0 <= i < len(xs):
                total += kv * xs[i]
        expected.append(int(total) if total.denominator == 1 else total)
    assert result.output.tolist() == expected
    assert [type(v) for v in result.output.tolist()] == [type(v) for v in expected]
    quarter = conv.convolve(objects([1, 2, 4, 5]), objects([Fraction(1, 4)] * 4)).output.tolist()
    assert quarter == [3] and type(quarter[0]) is int
