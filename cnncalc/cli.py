"""The command line: options → core → renderer. No arithmetic lives here.

Every subcommand parses its option strings with :mod:`cnncalc.literals` (our
own parsers, never eval), calls one core function and hands the result to a
view in :mod:`cnncalc.render`. :func:`main` turns the two error kinds into one
line on stderr and exit status 2 (bad input) or 1 (impossible computation).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer

from cnncalc import __version__
from cnncalc.env import Environment
from cnncalc.errors import CnnCalcError, InputError
from cnncalc.render.output import OutputClosed

app = typer.Typer(
    name="cnncalc",
    help="A calculator for convolution arithmetic and backpropagation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: The environment of the current invocation; :func:`main` sets it (tests pass their own).
_env: Environment | None = None


def env() -> Environment:
    return _env if _env is not None else Environment()


def _complete_padding(incomplete: str) -> list[str]:
    return [w for w in ("same", "valid", "full") if w.startswith(incomplete)]


def _complete_pool(incomplete: str) -> list[str]:
    return [w for w in ("max", "avg") if w.startswith(incomplete)]


def _complete_same_mode(incomplete: str) -> list[str]:
    return [w for w in ("torch", "tf") if w.startswith(incomplete)]


def _complete_solve(incomplete: str) -> list[str]:
    return [w for w in ("p", "output-padding") if w.startswith(incomplete)]


def _version(value: bool) -> None:
    if value:
        env().stdout.write(f"cnncalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A calculator for convolution arithmetic and backpropagation.

    Sizes of conv/pool layers (shape), each output of a convolution (conv), the
    matrix a convolution equals (toeplitz) and staged gradients (backprop).
    """


JSON_HELP = "Print one JSON document {schema_version, command, input, result}."

# Options that conv and toeplitz share (Typer reads these defaults; they are never mutated).
WINDOW_PADDING = typer.Option(
    "0", "--p", "--padding", help="Padding: 1, valid, same, full, lo:hi (asymmetric), or one per dimension.",
    autocompletion=_complete_padding,
)
WINDOW_STRIDE = typer.Option("1", "--s", "--stride", help="Stride (default 1), or one per dimension.")
WINDOW_DILATION = typer.Option("1", "--d", "--dilation", help="Dilation (default 1), or one per dimension.")
SAME_MODE = typer.Option(
    "torch", "--same-mode", help="Rule for --p same: torch (stride 1 only) or tf (TensorFlow SAME).",
    autocompletion=_complete_same_mode,
)


def _output(json_out: bool, latex_out: bool = False, csv_out: bool = False) -> Any:
    from cnncalc.render import Format

    chosen = [name for name, on in (("--json", json_out), ("--latex", latex_out), ("--csv", csv_out)) if on]
    if len(chosen) > 1:
        raise InputError(f"{' and '.join(chosen)} cannot be combined; pick one output format")
    return Format.JSON if json_out else Format.LATEX if latex_out else Format.CSV if csv_out else Format.TEXT


@app.command(
    epilog=(
        "Examples:  cnncalc shape --W 9 --K 3 --p 1 --s 2  ·  "
        "cnncalc shape --W 50,100 --K 3,5 --s 2,1 --p 4,2 --d 3,1  ·  "
        "cnncalc shape --W W --K K --p p --s s  ·  "
        "cnncalc shape --W 5 --K 2 --p 1 --pool max --ceil-mode --json | jq '.result.output'  ·  "
        "cnncalc shape --W 32 --K 3 --s 2 --solve p --target 16  ·  "
        "cnncalc shape --input 3x224x224 --layers 'conv(64,7,s=2,p=3); relu; maxpool(3,s=2,p=1)'"
    )
)
def shape(
    W: Optional[str] = typer.Option(None, "--W", "--input-size", help="Input size: 9, or one per dimension: 32,32. A name (W) makes it symbolic."),
    K: Optional[str] = typer.Option(None, "--K", "--kernel-size", help="Kernel size, e.g. 3 or 3,5."),
    p: Optional[str] = typer.Option(
        None, "--p", "--padding", help="Padding (default 0): 1, valid, same, lo:hi (asymmetric), or one per dimension.",
        autocompletion=_complete_padding,
    ),
    s: Optional[str] = typer.Option(None, "--s", "--stride", help="Stride (default 1; for pools, the kernel size)."),
    d: str = typer.Option("1", "--d", "--dilation", help="Dilation (default 1)."),
    transposed: bool = typer.Option(False, "--transposed", help="Transposed convolution (PyTorch ConvTranspose)."),
    output_padding: str = typer.Option("0", "--output-padding", help="Extra size on one side of a transposed output."),
    pool: Optional[str] = typer.Option(None, "--pool", help="Pooling layer: max or avg.", autocompletion=_complete_pool),
    ceil_mode: bool = typer.Option(False, "--ceil-mode", help="Pooling rounds the window count up (PyTorch ceil_mode)."),
    same_mode: str = SAME_MODE,
    solve: Optional[str] = typer.Option(
        None, "--solve", help="Solve for p (padding) or output-padding so the output is --target.",
        autocompletion=_complete_solve,
    ),
    target: Optional[str] = typer.Option(None, "--target", help="The output size --solve aims for."),
    input_shape: Optional[str] = typer.Option(
        None, "--input", help="Network input, channels first: 3x224x224 or 3xHxW (with --layers)."
    ),
    layers: Optional[str] = typer.Option(
        None, "--layers", help="Layers, ';'-separated: conv(64,3,p=1); relu; maxpool(2); flatten; linear(10). @FILE reads a file."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    latex_out: bool = typer.Option(False, "--latex", help="Print the output size as LaTeX."),
    csv_out: bool = typer.Option(False, "--csv", help="With --layers: one CSV row per layer."),
) -> None:
    """Output size of a convolution, transposed convolution or pooling layer, with the arithmetic.

    With --input and --layers: shapes, parameters, MACs and receptive fields of a whole network.
    """
    from cnncalc import literals, sizes
    from cnncalc.render import emit, shape_view

    fmt = _output(json_out, latex_out, csv_out)
    if layers is not None or input_shape is not None:
        if layers is None or input_shape is None:
            raise InputError("--input and --layers go together: --input 3x224x224 --layers 'conv(64,3); relu'")
        from cnncalc import network
        from cnncalc.render import network_view

        from cnncalc import io

        calls = network.parse_spec(io.read_text(layers, "--layers", env().stdin))
        emit(env(), "shape", network_view, network.network(network.parse_input_shape(input_shape), calls), fmt)
        return
    if W is None or K is None:
        raise InputError(f"missing option {'--W' if W is None else '--K'}: shape needs --W and --K (or --input with --layers)")
    if transposed and pool:
        raise InputError("--transposed and --pool cannot be combined")
    spec = sizes.make_spec(
        W=literals.parse_size_list(W, "--W"),
        K=literals.parse_size_list(K, "--K"),
        pad=literals.parse_padding(p if p is not None else "0", "--p"),
        s=literals.parse_size_list(s, "--s") if s is not None else None,
        d=literals.parse_size_list(d, "--d"),
        kind="transposed" if transposed else "pool" if pool else "conv",
        pool=pool,
        ceil_mode=ceil_mode,
        same_mode=same_mode,
        output_padding=literals.parse_size_list(output_padding, "--output-padding"),
    )
    if solve is not None or target is not None:
        from cnncalc import network
        from cnncalc.render.network_view import SolveView

        if solve not in ("p", "output-padding") or target is None:
            raise InputError(f"--solve {solve} --target {target}: use --solve p or --solve output-padding with --target N")
        if solve == "p" and p is not None:
            raise InputError(f"--p {p} with --solve p: the padding is what gets solved for; leave --p out")
        solver = network.solve_padding if solve == "p" else network.solve_output_padding
        emit(env(), "shape", SolveView, solver(spec, literals.parse_int(target, "--target")), fmt)
        return
    emit(env(), "shape", shape_view, sizes.layer_shape(spec), fmt)


@app.command(
    epilog=(
        "Examples:  cnncalc toeplitz --W 9 --k k1:3  ·  "
        "cnncalc toeplitz --W 9 --k k1:3 --p 1 --s 2  ·  "
        "cnncalc toeplitz --W 3,3 --k '1/4*[[1,1],[1,1]]' --x '[[1,2,3],[4,5,6],[7,8,9]]'  ·  "
        "cnncalc toeplitz --W 9 --k k1:3 --transpose --x g1:7  ·  "
        "cnncalc toeplitz --W 9 --k k1:3 --latex  ·  "
        "cnncalc toeplitz --W 256,256 --k '[[1,2,1],[2,4,2],[1,2,1]]' --json --sparse | jq '.result.nnz'"
    )
)
def toeplitz(
    W: Optional[str] = typer.Option(
        None, "--W", "--input-size", help="Input size: 9, or one per dimension: 4,4 (default: the shape of --x)."
    ),
    k: str = typer.Option(
        ..., "--k", "--kernel", help="Kernel: [1,2,3], [[1,0],[0,-1]], 1/4*[[1,1],[1,1]], k1:3 or K:3x3 (symbols)."
    ),
    p: str = WINDOW_PADDING,
    s: str = WINDOW_STRIDE,
    d: str = WINDOW_DILATION,
    same_mode: str = SAME_MODE,
    x: Optional[str] = typer.Option(
        None, "--x", help="Also multiply by this vector/image and check the product against conv (with --transpose: an output-sized gradient g)."
    ),
    transpose: bool = typer.Option(
        False, "--transpose", help="Show Mᵀ: the transposed convolution, the gradient w.r.t. the input."
    ),
    dense: bool = typer.Option(False, "--dense", help="JSON: force the dense nested-list matrix (refused above 4,000,000 entries)."),
    sparse: bool = typer.Option(False, "--sparse", help="JSON: force the sparse COO form (default above 10,000 entries)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    latex_out: bool = typer.Option(False, "--latex", help="Print a bmatrix ready to paste (elided when large)."),
) -> None:
    """The matrix M of a convolution (x' = M·x on the flattened input), or its transpose, with its dimension."""
    from cnncalc import literals
    from cnncalc import toeplitz as core
    from cnncalc.render import emit, toeplitz_view

    fmt = _output(json_out, latex_out)
    if dense and sparse:
        raise InputError("--dense and --sparse cannot be combined; pick one layout")
    result = core.toeplitz(
        core.parse_array(k, "--k"),
        literals.parse_size_list(W, "--W") if W is not None else None,
        pad=literals.parse_padding(p, "--p"),
        s=literals.parse_size_list(s, "--s"),
        d=literals.parse_size_list(d, "--d"),
        transpose=transpose,
        layout="dense" if dense else "sparse" if sparse else "auto",
        vector=core.parse_array(x, "--x") if x is not None else None,
        same_mode=same_mode,
    )
    emit(env(), "toeplitz", toeplitz_view, result, fmt)


@app.command(
    epilog=(
        "Examples:  cnncalc conv --x x1:9 --k k1:3  ·  "
        "cnncalc conv --x x1:9 --k k1:3 --p 1 --s 2  ·  "
        "cnncalc conv --x '[[1,2,3],[4,5,6],[7,8,9]]' --k '1/4*[[1,1],[1,1]]'  ·  "
        "cnncalc conv --x X:4x4 --k K:2x2 --p same  ·  "
        "cnncalc conv --x image.npy --k kernel.npy --out y.npy  ·  "
        "echo '[1,2,3,4]' | cnncalc conv --x - --k '[1,-1]' --json | jq '.result.output'"
    )
)
def conv(
    x: str = typer.Option(
        ..., "--x", "--input",
        help="Input: [1,2,3], [[1,2],[3,4]], x1:9 or X:3x3 (symbols), a .npy/.csv/.txt file, or - (stdin).",
    ),
    k: str = typer.Option(
        ..., "--k", "--kernel",
        help="Kernel: [1,0,-1], 1/4*[[1,1],[1,1]], k1:3, K:3x3, or a file; (C_out, C_in, kH, kW) with x (C_in, H, W).",
    ),
    p: str = WINDOW_PADDING,
    s: str = WINDOW_STRIDE,
    d: str = WINDOW_DILATION,
    same_mode: str = SAME_MODE,
    flip: bool = typer.Option(False, "--flip", help="Flip the kernel: signal-processing convolution, not cross-correlation."),
    explain: bool = typer.Option(False, "--explain", help="Write out every output's window and dot product (up to 200)."),
    out: Optional[str] = typer.Option(None, "--out", help="Also write the output array to FILE (.npy or .csv)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    latex_out: bool = typer.Option(False, "--latex", help="Print the output as a LaTeX bmatrix (elided when large)."),
) -> None:
    """Each output of a convolution (PyTorch cross-correlation): exact, symbolic or fast float64, with its window."""
    from cnncalc import conv as core
    from cnncalc import io, literals
    from cnncalc.render import conv_view, emit

    fmt = _output(json_out, latex_out)
    if x.strip() == "-" and k.strip() == "-":
        raise InputError("--x - and --k -: only one of them can read standard input")
    if out is not None:
        io.check_output_path(out)
    result = core.convolve(
        io.read_array(x, "--x", env().stdin),
        io.read_array(k, "--k", env().stdin),
        pad=literals.parse_padding(p, "--p", allow_names=False),
        stride=literals.parse_size_list(s, "--s", allow_names=False),
        dilation=literals.parse_size_list(d, "--d", allow_names=False),
        flip=flip,
        same_mode=same_mode,
    )
    if out is not None:
        io.write_array(out, result.output)
    emit(env(), "conv", conv_view, conv_view.Report(result, explain=explain, out_path=out), fmt)


def _complete_graph(incomplete: str) -> list[str]:
    return [w for w in ("dot", "mermaid") if w.startswith(incomplete)]


@app.command(
    epilog=(
        "Examples:  cnncalc backprop \"g = x + y; f = g * z\" --at x=-2,y=5,z=-4  ·  "
        "cnncalc backprop \"(x+y)*z\"  (symbolic gradients)  ·  "
        "cnncalc backprop \"relu(w*x + b)\" --at w=2,x=-1,b=2 --check  ·  "
        "cnncalc backprop \"(x+y)*z\" --at x=-2,y=5,z=-4 --graph dot | dot -Tpng -o graph.png  ·  "
        "cnncalc backprop --file net.txt --at x=1 --json | jq .result.gradients"
    )
)
def backprop(
    program: Optional[str] = typer.Argument(
        None,
        help="Expression or staged program: \"(x+y)*z\" or \"g = x + y; f = g * z\" (';' or newlines). "
        "One that starts with '-' goes after --: cnncalc backprop --at x=1 -- \"-x*2\".",
    ),
    at: list[str] = typer.Option(
        [], "--at", help="Input values, name=value[,name=value] (repeatable). Without --at gradients are symbolic."
    ),
    file: Optional[str] = typer.Option(None, "--file", help="Read the program from a file ('-' for stdin)."),
    check: bool = typer.Option(False, "--check", help="Compare each gradient with a central difference."),
    graph: Optional[str] = typer.Option(
        None, "--graph", help="Print the graph as dot (Graphviz) or mermaid source instead of the tables.",
        autocompletion=_complete_graph,
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    latex_out: bool = typer.Option(False, "--latex", help="Print the forward and backward steps as a LaTeX align block."),
) -> None:
    """Forward values and chain-rule gradients of every stage of an expression, with its graph."""
    from cnncalc import backprop as core
    from cnncalc import literals
    from cnncalc.render import emit
    from cnncalc.render.backprop_view import BackpropView

    fmt = _output(json_out, latex_out)
    if graph is not None and graph not in ("dot", "mermaid"):
        raise InputError(f"--graph {graph} is not a graph format; use dot or mermaid")
    if graph is not None and fmt.value != "text":
        raise InputError(f"--graph {graph} and --{fmt.value} cannot be combined; pick one output")
    if (program is None) == (file is None):
        raise InputError("give the program either as an argument or with --file (not both)")
    if program is None:
        from cnncalc import io

        program = io.read_text("@" + file, "--file", env().stdin)
    values = literals.parse_assignments(at, "--at") if at else None
    emit(env(), "backprop", BackpropView(graph), core.run(program, values, check), fmt)


@app.command(epilog="Examples:  cnncalc demo  ·  cnncalc demo | less")
def demo() -> None:
    """Work through a backprop-and-CNN discussion live: every number comes from the real calculator."""
    from cnncalc import demo as tour
    from cnncalc.render.blocks import Line
    from cnncalc.render.output import write_blocks

    environment = env()
    for step in tour.STEPS:
        write_blocks(environment, [Line(""), Line(step.title, "heading"), Line(step.why, "dim"),
                                   Line(f"$ {step.command}", "code")])
        code = run(list(step.argv), environment)
        if code != 0:
            raise typer.Exit(code)


# --- entry point ---------------------------------------------------------


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _fail(environment: Environment, message: str, code: int) -> int:
    environment.stderr.write(f"Error: {_one_line(message)}\n")
    return code


def main(argv: list[str] | None = None, environment: Environment | None = None) -> None:
    """Run the CLI and exit with its status; errors are one line on stderr."""
    sys.exit(run(argv, environment))


def run(argv: list[str] | None = None, environment: Environment | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting (for tests)."""
    global _env
    from typer._click import exceptions as click_exceptions  # typer 0.26–0.28 vendor click here

    outer = _env  # `demo` runs commands through here while its own run is active
    _env = environment or Environment()
    try:
        rv = app(args=argv, prog_name="cnncalc", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except CnnCalcError as exc:
        return _fail(_env, str(exc), exc.exit_code)
    except click_exceptions.NoArgsIsHelpError:
        return 2  # typer has already printed the help
    except click_exceptions.UsageError as exc:
        return _fail(_env, exc.format_message(), 2)
    except click_exceptions.ClickException as exc:
        return _fail(_env, exc.format_message(), exc.exit_code)
    except typer.Abort:
        return _fail(_env, "aborted", 1)
    except (BrokenPipeError, OutputClosed):
        if outer is not None:  # inside `demo`: let the outer run stop too
            raise OutputClosed() from None
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, unless debugging
        if os.environ.get("CNNCALC_DEBUG"):
            raise
        return _fail(_env, f"internal error ({type(exc).__name__}: {exc}); set CNNCALC_DEBUG=1 for details", 1)
    finally:
        _env = outer


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
