"""The convolution matrix core: worksheet 9.2 (c), 2D, padding/stride/dilation, and
properties checked against independent computations (naive loops written here,
the conv core, and PyTorch when it is installed)."""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import sizes, toeplitz
from cnncalc.errors import DomainError, InputError
from cnncalc.sizes import PadSpec
from conftest import HANG_GUARD

# --- independent references (plain loops, no cnncalc code) --------------------


def out_size(W: int, K: int, lo: int, hi: int, s: int, d: int) -> int:
    """The worksheet's rule ⌊(W + 2p − K)/s⌋ + 1, with dilation and asymmetric padding."""
    return (W + lo + hi - d * (K - 1) - 1) // s + 1


def naive_conv(x: np.ndarray, k: np.ndarray, pads, strides, dilations) -> np.ndarray:
    """Cross-correlation over the zero-padded input, one output at a time."""
    W, K = x.shape, k.shape
    outs = [out_size(W[a], K[a], pads[a][0], pads[a][1], strides[a], dilations[a]) for a in range(x.ndim)]
    y = np.zeros(outs)
    for o in itertools.product(*(range(n) for n in outs)):
        total = 0.0
        for t in itertools.product(*(range(n) for n in K)):
            q = [o[a] * strides[a] + t[a] * dilations[a] - pads[a][0] for a in range(x.ndim)]
            if all(0 <= q[a] < W[a] for a in range(x.ndim)):
                total += k[t] * x[tuple(q)]
        y[o] = total
    return y


def naive_input_gradient(g: np.ndarray, k: np.ndarray, in_shape, pads, strides, dilations) -> np.ndarray:
    """∂L/∂x for L = ⟨g, conv(x)⟩: scatter each upstream value back through the taps."""
    grad = np.zeros(in_shape)
    for o in itertools.product(*(range(n) for n in g.shape)):
        for t in itertools.product(*(range(n) for n in k.shape)):
            q = [o[a] * strides[a] + t[a] * dilations[a] - pads[a][0] for a in range(g.ndim)]
            if all(0 <= q[a] < in_shape[a] for a in range(g.ndim)):
                grad[tuple(q)] += k[t] * g[o]
    return grad


def dense_from_coo(rows, cols, values, shape) -> np.ndarray:
    out = np.zeros(shape)
    for r, c, v in zip(rows, cols, values):
        out[r, c] += v
    return out


def symbols(name: str, n: int) -> np.ndarray:
    arr = np.empty(n, dtype=object)
    arr[:] = [sympy.Symbol(f"{name}{i + 1}") for i in range(n)]
    return arr


# --- the worksheet and hand-checkable cases -----------------------------------


def test_worksheet_9_2_c_is_7_by_9_band():
    k = symbols("k", 3)
    m = toeplitz.conv_matrix(k, [9])
    assert m.shape == (7, 9)
    assert m.kind == "symbolic"
    dense = m.to_dense()
    for i in range(7):
        for j in range(9):
            expected = k[j - i] if 0 <= j - i < 3 else 0
            assert dense[i, j] == expected, (i, j)
    assert m.nnz == 21
    assert m.bandwidth == (0, 2)


def test_worksheet_9_2_d_two_d_is_4_by_9_and_averages():
    quarter = Fraction(1, 4)
    k = np.empty((2, 2), dtype=object)
    k[:] = [[quarter, quarter], [quarter, quarter]]
    m = toeplitz.conv_matrix(k, [3, 3])
    assert m.shape == (4, 9)
    dense = m.to_dense()
    # Row r = output (oi, oj) reads the 2×2 block at (oi, oj) of the 3×3 image, flattened row-major.
    for oi, oj in itertools.product(range(2), range(2)):
        row = dense[oi * 2 + oj]
        reads = {(oi + a) * 3 + (oj + b) for a in range(2) for b in range(2)}
        assert [row[c] for c in range(9)] == [quarter if c in reads else 0 for c in range(9)]
    x = np.arange(1, 10)
    product = m.matvec(x)
    assert list(product) == [3, 4, 6, 7]  # the worksheet's answer [[3, 4], [6, 7]]
    assert all(isinstance(v, (int, Fraction)) for v in product)


def test_padded_stride_two_rows_drop_taps_on_padding():
    k = symbols("k", 3)
    k1, k2, k3 = k
    m = toeplitz.conv_matrix(k, [9], pad=[PadSpec(lo=1, hi=1)], s=[2])
    assert m.shape == (5, 9)  # the worksheet's (9 + 2 − 3)//2 + 1 = 5
    dense = m.to_dense()
    assert list(dense[0]) == [k2, k3, 0, 0, 0, 0, 0, 0, 0]
    assert list(dense[1]) == [0, k1, k2, k3, 0, 0, 0, 0, 0]
    assert list(dense[4]) == [0, 0, 0, 0, 0, 0, 0, k1, k2]
    # The worksheet's second output k1·x2 + k2·x3 + k3·x4 (b):
    x = symbols("x", 9)
    assert sympy.expand(m.matvec(x)[1] - (k1 * x[1] + k2 * x[2] + k3 * x[3])) == 0


def test_dilation_spreads_taps():
    m = toeplitz.conv_matrix(np.array([1.0, 2.0, 3.0]), [7], d=[2])
    assert m.shape == (3, 7)
    assert m.to_dense()[0].tolist() == [1, 0, 2, 0, 3, 0, 0]


def test_rows_come_from_the_size_rule():
    m = toeplitz.conv_matrix(np.ones((3, 2)), [10, 7], pad=[PadSpec("same")], s=[1])
    expected = sizes.layer_shape(sizes.make_spec(W=[10, 7], K=[3, 2], pad=[PadSpec("same")])).output
    assert m.out_shape == expected
    assert m.shape == (expected[0] * expected[1], 70)


def test_transpose_swaps_shape_and_entries():
    k = np.array([1.0, -2.0, 0.5])
    m = toeplitz.conv_matrix(k, [8], s=[2], pad=[PadSpec(lo=1, hi=1)])
    mt = toeplitz.conv_matrix(k, [8], s=[2], pad=[PadSpec(lo=1, hi=1)], transpose=True)
    assert mt.shape == m.shape[::-1]
    assert np.array_equal(mt.to_dense(), m.to_dense().T)


# --- errors and limits --------------------------------------------------------


def test_absurd_dense_request_is_refused_fast_and_says_how_big():
    start = time.perf_counter()
    with pytest.raises(DomainError) as info:
        toeplitz.conv_matrix(np.ones((1, 1)), [256, 256], layout="dense")
    elapsed = time.perf_counter() - start
    assert elapsed < HANG_GUARD
    message = str(info.value)
    assert "65536 × 65536" in message
    assert "4,294,967,296" in message
    assert "\n" not in message


def test_auto_layout_switches_to_sparse_above_the_documented_size():
    side = int(toeplitz.AUTO_DENSE_MAX_ENTRIES**0.5)
    small = toeplitz.conv_matrix(np.ones(1), [side])
    big = toeplitz.conv_matrix(np.ones(1), [side + 1])
    assert small.layout == "dense" and big.layout == "sparse"


def test_sparse_entry_limit_is_checked_before_building():
    start = time.perf_counter()
    with pytest.raises(DomainError, match="kernel taps") as info:
        toeplitz.conv_matrix(np.ones((3, 3)), [1500, 1500], layout="sparse")
    assert time.perf_counter() - start < HANG_GUARD
    assert f"{toeplitz.MAX_STORED_ENTRIES:,}" in str(info.value)


def test_documented_limits():
    assert toeplitz.MAX_SIDE == 10_000_000
    assert toeplitz.MAX_INDEX_PAIRS == 10_000_000
    assert toeplitz.MAX_STORED_ENTRIES == 2_000_000
    assert toeplitz.MAX_SYMBOLIC_ENTRIES == 1_000_000 < toeplitz.MAX_STORED_ENTRIES
    assert toeplitz.MAX_SYMBOLIC_PRODUCT_TERMS < toeplitz.MAX_EXACT_PRODUCT_TERMS


@pytest.mark.parametrize(
    "W, pad, s, match",
    [
        ([9], 10**12, 1, "2,000,000,000,007 rows"),  # was a MemoryError (14.6 TiB)
        ([9], 10**7, 1, "20,000,007 rows"),  # was 4.9 s
        ([9], 4 * 10**6, 1, "24,000,021 \\(output position, kernel tap\\) pairs"),
        ([2 * 10**7], 0, 10**7, "20,000,000 columns"),
    ],
)
def test_rows_columns_and_index_work_are_bounded_before_allocating(W, pad, s, match):
    start = time.perf_counter()
    with pytest.raises(DomainError, match=match) as info:
        toeplitz.conv_matrix(np.ones(3) if s == 1 else np.ones(1), W, pad=[PadSpec(lo=pad, hi=pad)], s=[s])
    assert time.perf_counter() - start < HANG_GUARD
    message = str(info.value)
    assert "10,000,000" in message and "\n" not in message
    assert message.startswith(f"--W {W[0]} --k size ")


def test_transpose_names_its_rows():
    with pytest.raises(DomainError, match="Mᵀ would have 20,000,007 columns"):
        toeplitz.conv_matrix(np.ones(3), [9], pad=[PadSpec(lo=10**7, hi=10**7)], transpose=True)


def test_symbolic_kernels_have_a_lower_entry_limit():
    import sympy

    k = np.empty(3, dtype=object)
    k[:] = sympy.symbols("k1:4")
    n = toeplitz.MAX_SYMBOLIC_ENTRIES // 3 + 10  # over the symbolic limit, under the numeric one
    with pytest.raises(DomainError, match="symbolic matrices are limited to 1,000,000"):
        toeplitz.conv_matrix(k, [n])
    assert toeplitz.conv_matrix(np.ones(3), [n]).nnz == 3 * (n - 2)


def test_symbolic_products_are_bounded_before_computing():
    import sympy

    k = np.empty(5, dtype=object)
    k[:] = sympy.symbols("k1:6")
    x = np.empty(3000, dtype=object)
    x[:] = sympy.symbols("x1:3001")
    start = time.perf_counter()
    with pytest.raises(DomainError, match="symbolic products are limited to 7,000"):
        toeplitz.toeplitz(k, [3000], vector=x)
    assert time.perf_counter() - start < HANG_GUARD


def test_symbolic_product_sums_each_row_once():
    import sympy

    k = np.empty(60, dtype=object)
    k[:] = sympy.symbols("k1:61")
    x = np.empty(150, dtype=object)
    x[:] = sympy.symbols("x1:151")
    start = time.perf_counter()
    result = toeplitz.toeplitz(k, [150], vector=x)
    assert time.perf_counter() - start < HANG_GUARD
    assert result.check.equal
    assert result.check.product[0] == sum(k[t] * x[t] for t in range(60))


def test_kernel_size_rule_names_the_toeplitz_option():
    with pytest.raises(InputError) as info:
        toeplitz.conv_matrix(np.ones(4), [3])
    assert str(info.value) == "--k size 4 is larger than the padded input 3 + 0 + 0 = 3"


@pytest.mark.parametrize("text", ["some.npy", "data/x.CSV", "k.txt"])
def test_parse_array_refuses_files_without_offering_them(text):
    with pytest.raises(InputError) as info:
        toeplitz.parse_array(text, "--k")
    message = str(info.value)
    assert message.startswith(f"--k '{text}': toeplitz does not read files")
    assert ".npy/" not in message and ".csv" not in message


@pytest.mark.parametrize("text", ["abc", "", "1/4*", "[" + ",".join(["1/3"] * 1_000_001) + "]"])
def test_parse_array_messages_offer_only_literals(text):
    with pytest.raises(InputError) as info:
        toeplitz.parse_array(text, "--x")
    message = str(info.value)
    assert message.startswith("--x") and "file" not in message and ".npy" not in message


def test_parse_array_parses_literals():
    assert toeplitz.parse_array("[1,2,3]", "--k").data.tolist() == [1, 2, 3]
    assert toeplitz.parse_array("k1:3", "--k").kind == "symbolic"


@pytest.mark.parametrize(
    "W, kernel, match",
    [
        (["W"], np.ones(3), "numeric sizes"),
        ([4, 4], np.ones(3), "1-D"),
        ([2], np.ones(3), "larger than the padded input"),
        ([0], np.ones(1), "at least 1"),
    ],
)
def test_bad_input_raises_input_error(W, kernel, match):
    with pytest.raises(InputError, match=match):
        toeplitz.conv_matrix(kernel, W)


def test_vector_of_wrong_size_is_refused():
    m = toeplitz.conv_matrix(np.ones(3), [9])
    with pytest.raises(InputError, match="--x"):
        toeplitz.check_product(m, np.ones(8), conv_reference=np.zeros(7))


# --- properties ---------------------------------------------------------------


@st.composite
def layers(draw, ndim: int):
    """Random sizes, kernels, paddings, strides and dilations that PyTorch accepts."""
    W, K, pads, s, d = [], [], [], [], []
    for _ in range(ndim):
        k = draw(st.integers(1, 4))
        dil = draw(st.integers(1, 3))
        lo = draw(st.integers(0, 3))
        hi = draw(st.integers(0, 3))
        span = dil * (k - 1) + 1
        smallest = max(1, span - lo - hi)
        w = draw(st.integers(smallest, smallest + (9 if ndim == 1 else 4)))
        W.append(w), K.append(k), pads.append((lo, hi)), s.append(draw(st.integers(1, 3))), d.append(dil)
    seed = draw(st.integers(0, 2**32 - 1))
    return W, K, pads, s, d, np.random.default_rng(seed)


def _build(W, K, pads, s, d, rng, **kwargs):
    kernel = rng.normal(size=K)
    m = toeplitz.conv_matrix(
        kernel, W, pad=[PadSpec(lo=lo, hi=hi) for lo, hi in pads], s=s, d=d, **kwargs
    )
    return kernel, m


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("ndim", [1, 2])
@PROPERTY
@given(data=st.data())
def test_matrix_times_x_is_the_convolution(ndim, data):
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    kernel, m = _build(W, K, pads, s, d, rng, layout="sparse")
    x = rng.normal(size=W)
    expected = naive_conv(x, kernel, pads, s, d)
    assert m.out_shape == expected.shape
    assert m.shape == (expected.size, x.size)
    assert np.allclose(m.matvec(x), expected.reshape(-1), atol=1e-12)
    assert np.allclose(m.to_dense() @ x.reshape(-1), expected.reshape(-1), atol=1e-12)
    assert m.nnz == toeplitz.count_taps(m.layer)


@pytest.mark.parametrize("ndim", [1, 2])
@PROPERTY
@given(data=st.data())
def test_transpose_times_g_is_the_input_gradient(ndim, data):
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    kernel, mt = _build(W, K, pads, s, d, rng, transpose=True)
    g = rng.normal(size=mt.out_shape)
    expected = naive_input_gradient(g, kernel, tuple(W), pads, s, d)
    assert mt.shape == (expected.size, g.size)
    assert np.allclose(mt.matvec(g), expected.reshape(-1), atol=1e-12)
    # the core's own scatter path agrees too
    assert np.allclose(toeplitz.scatter_input_gradient(kernel, g, mt.layer), expected, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2])
@PROPERTY
@given(data=st.data())
def test_sparse_and_dense_agree(ndim, data):
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    _, sparse = _build(W, K, pads, s, d, np.random.default_rng(1), layout="sparse")
    _, dense = _build(W, K, pads, s, d, np.random.default_rng(1), layout="dense")
    assert sparse.layout == "sparse" and dense.layout == "dense"
    rebuilt = dense_from_coo(sparse.rows, sparse.cols, sparse.values(), sparse.shape)
    assert np.array_equal(rebuilt, dense.to_dense())
    # no (row, column) is stored twice
    assert len(set(zip(sparse.rows.tolist(), sparse.cols.tolist()))) == sparse.nnz


@pytest.mark.parametrize("ndim", [1, 2])
@PROPERTY
@given(data=st.data())
def test_transposed_shape_agrees_with_the_transposed_size_rule(ndim, data):
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    pads = [(lo, lo) for lo, _ in pads]  # PyTorch's ConvTranspose has symmetric padding only
    if any(W[a] + 2 * pads[a][0] < d[a] * (K[a] - 1) + 1 for a in range(ndim)):
        return
    _, mt = _build(W, K, pads, s, d, rng, transpose=True)
    info = mt.transpose_sizes
    assert info.layer is not None
    for a in range(ndim):
        out = mt.out_shape[a]
        # Without output padding the rule can fall short of W by what the stride skipped:
        skipped = (W[a] + 2 * pads[a][0] - d[a] * (K[a] - 1) - 1) % s[a]
        assert sizes.transposed_size(out, K[a], pads[a][0], pads[a][0], s[a], d[a]) == W[a] - skipped
        assert info.output_padding[a] == skipped and skipped < s[a]
        assert sizes.transposed_size(out, K[a], pads[a][0], pads[a][0], s[a], d[a], skipped) == W[a]
    assert mt.shape[0] == int(np.prod(info.layer.output))


def test_asymmetric_padding_has_no_pytorch_transpose():
    mt = toeplitz.conv_matrix(np.ones(2), [5], pad=[PadSpec("same")], transpose=True)
    assert mt.transpose_sizes.layer is None
    assert "asymmetric" in mt.transpose_sizes.reason


def test_symbolic_product_matches_hand_expansion():
    k, x = symbols("k", 3), symbols("x", 9)
    m = toeplitz.conv_matrix(k, [9])
    y = m.matvec(x)
    assert sympy.expand(y[0] - (k[0] * x[0] + k[1] * x[1] + k[2] * x[2])) == 0
    assert sympy.expand(y[6] - (k[0] * x[6] + k[1] * x[7] + k[2] * x[8])) == 0


def test_check_product_uses_a_reference_and_flags_disagreement():
    m = toeplitz.conv_matrix(np.array([1.0, 2.0]), [4])
    x = np.array([1.0, 0.0, 0.0, 1.0])
    good = toeplitz.check_product(m, x, conv_reference=naive_conv(x, np.array([1.0, 2.0]), [(0, 0)], [1], [1]))
    bad = toeplitz.check_product(m, x, conv_reference=np.zeros(3))
    assert good.equal and not bad.equal


# --- against the conv core and PyTorch ----------------------------------------


@pytest.mark.parametrize("ndim", [1, 2])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_matrix_agrees_with_the_conv_core(ndim, data):
    pytest.importorskip("cnncalc.conv")
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    kernel, m = _build(W, K, pads, s, d, rng)
    x = rng.normal(size=W)
    reference = toeplitz.convolve_with_conv_core(m, x)
    assert np.allclose(m.matvec(x), np.asarray(reference, dtype=float).reshape(-1), atol=1e-9)


@pytest.mark.parametrize("ndim", [1, 2])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_against_torch_conv_and_autograd(ndim, data):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    W, K, pads, s, d, rng = data.draw(layers(ndim))
    kernel, m = _build(W, K, pads, s, d, rng)
    mt = toeplitz.conv_matrix(kernel, W, pad=[PadSpec(lo=lo, hi=hi) for lo, hi in pads], s=s, d=d, transpose=True)
    x = torch.tensor(rng.normal(size=W), dtype=torch.float64, requires_grad=True)
    weight = torch.tensor(kernel, dtype=torch.float64)[None, None]
    # F.pad takes (last-dim lo, hi, previous-dim lo, hi, …)
    flat_pads = [p for lo_hi in reversed(pads) for p in lo_hi]
    conv = F.conv1d if ndim == 1 else F.conv2d
    y = conv(F.pad(x[None, None], flat_pads), weight, stride=s, dilation=d)[0, 0]
    assert np.allclose(m.matvec(x.detach().numpy()), y.detach().numpy().reshape(-1), atol=1e-10)
    g = torch.tensor(rng.normal(size=tuple(y.shape)), dtype=torch.float64)
    y.backward(g)
    assert np.allclose(mt.matvec(g.numpy()), x.grad.numpy().reshape(-1), atol=1e-10)
    if all(lo == hi for lo, hi in pads):
        transpose = F.conv_transpose1d if ndim == 1 else F.conv_transpose2d
        z = transpose(
            g[None, None], weight, stride=s, dilation=d, padding=[lo for lo, _ in pads],
            output_padding=list(mt.transpose_sizes.output_padding),
        )[0, 0]
        assert tuple(z.shape) == tuple(W)
        assert np.allclose(mt.matvec(g.numpy()), z.numpy().reshape(-1), atol=1e-10)
