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


def _output(json_out: bool, latex_out: bool = False) -> Any:
    from cnncalc.render import Format

    if json_out and latex_out:
        raise InputError("--json and --latex cannot be combined; pick one output format")
    return Format.JSON if json_out else Format.LATEX if latex_out else Format.TEXT


def _complete_padding(incomplete: str) -> list[str]:
    return [w for w in ("same", "valid", "full") if w.startswith(incomplete)]


def _complete_pool(incomplete: str) -> list[str]:
    return [w for w in ("max", "avg") if w.startswith(incomplete)]


def _complete_same_mode(incomplete: str) -> list[str]:
    return [w for w in ("torch", "tf") if w.startswith(incomplete)]


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


@app.command(
    epilog=(
        "Examples:  cnncalc shape --W 9 --K 3 --p 1 --s 2  ·  "
        "cnncalc shape --W 50,100 --K 3,5 --s 2,1 --p 4,2 --d 3,1  ·  "
        "cnncalc shape --W W --K K --p p --s s  ·  "
        "cnncalc shape --W 5 --K 2 --p 1 --pool max --ceil-mode --json | jq '.result.output'"
    )
)
def shape(
    W: str = typer.Option(..., "--W", "--input-size", help="Input size: 9, or one per dimension: 32,32. A name (W) makes it symbolic."),
    K: str = typer.Option(..., "--K", "--kernel-size", help="Kernel size, e.g. 3 or 3,5."),
    p: str = typer.Option(
        "0", "--p", "--padding", help="Padding: 1, valid, same, lo:hi (asymmetric), or one per dimension.",
        autocompletion=_complete_padding,
    ),
    s: Optional[str] = typer.Option(None, "--s", "--stride", help="Stride (default 1; for pools, the kernel size)."),
    d: str = typer.Option("1", "--d", "--dilation", help="Dilation (default 1)."),
    transposed: bool = typer.Option(False, "--transposed", help="Transposed convolution (PyTorch ConvTranspose)."),
    output_padding: str = typer.Option("0", "--output-padding", help="Extra size on one side of a transposed output."),
    pool: Optional[str] = typer.Option(None, "--pool", help="Pooling layer: max or avg.", autocompletion=_complete_pool),
    ceil_mode: bool = typer.Option(False, "--ceil-mode", help="Pooling rounds the window count up (PyTorch ceil_mode)."),
    same_mode: str = typer.Option(
        "torch", "--same-mode", help="Rule for --p same: torch (stride 1 only) or tf (TensorFlow SAME).",
        autocompletion=_complete_same_mode,
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    latex_out: bool = typer.Option(False, "--latex", help="Print the output size as LaTeX."),
) -> None:
    """Output size of a convolution, transposed convolution or pooling layer, with the arithmetic."""
    from cnncalc import literals, sizes
    from cnncalc.render import emit, shape_view

    fmt = _output(json_out, latex_out)
    if transposed and pool:
        raise InputError("--transposed and --pool cannot be combined")
    spec = sizes.make_spec(
        W=literals.parse_size_list(W, "--W"),
        K=literals.parse_size_list(K, "--K"),
        pad=literals.parse_padding(p, "--p"),
        s=literals.parse_size_list(s, "--s") if s is not None else None,
        d=literals.parse_size_list(d, "--d"),
        kind="transposed" if transposed else "pool" if pool else "conv",
        pool=pool,
        ceil_mode=ceil_mode,
        same_mode=same_mode,
        output_padding=literals.parse_size_list(output_padding, "--output-padding"),
    )
    emit(env(), "shape", shape_view, sizes.layer_shape(spec), fmt)


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
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, unless debugging
        if os.environ.get("CNNCALC_DEBUG"):
            raise
        return _fail(_env, f"internal error ({type(exc).__name__}: {exc}); set CNNCALC_DEBUG=1 for details", 1)
    finally:
        _env = None


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
