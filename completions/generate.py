"""Regenerate the shipped shell-completion scripts from the installed `cnncalc`.

Usage:
    python completions/generate.py          # rewrite the files in completions/
    python completions/generate.py --check  # exit 1 if a shipped file differs

Each script comes from Typer's own mechanism (`_CNNCALC_COMPLETE=source_<shell> cnncalc`).
The zsh script is then adjusted so it also works when autoloaded from `$fpath`
(Typer's version only registers itself with `compdef`, so the first TAB after an
autoload completes nothing; fastapi/typer#1864).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: shell -> shipped file name
FILES = {
    "bash": "cnncalc.bash",
    "zsh": "_cnncalc",
    "fish": "cnncalc.fish",
    "powershell": "cnncalc.ps1",
}

ZSH_DISPATCH = """
# Autoloaded from $fpath, this file is the first body of _cnncalc: the definition
# above replaces it, and the call completes this very TAB. Sourced after compinit,
# it registers the function instead.
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _cnncalc "$@"
else
  compdef _cnncalc cnncalc
fi
"""


def find_cnncalc() -> str:
    """The console script beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("cnncalc")
    if beside.exists():
        return str(beside)
    found = shutil.which("cnncalc")
    if not found:
        raise SystemExit("cnncalc is not installed: pip install . first")
    return found


def typer_script(exe: str, shell: str) -> str:
    env = dict(os.environ, _CNNCALC_COMPLETE=f"source_{shell}")
    proc = subprocess.run([exe], env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip() + "\n"


def fix_zsh(script: str) -> str:
    """Name the function after the file and replace the unconditional `compdef` with a
    dispatch that also works when autoloaded."""
    lines = [line for line in script.splitlines() if not line.startswith("compdef ")]
    if len(lines) == len(script.splitlines()) or "_cnncalc_completion()" not in script:
        raise SystemExit("unexpected zsh script from typer: no compdef line or completion function")
    body = "\n".join(lines).replace("_cnncalc_completion()", "_cnncalc()")
    return body.rstrip() + "\n" + ZSH_DISPATCH


def render(shell: str, exe: str) -> str:
    script = typer_script(exe, shell)
    return fix_zsh(script) if shell == "zsh" else script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    args = parser.parse_args(argv)
    exe = find_cnncalc()
    stale = []
    for shell, name in FILES.items():
        path = HERE / name
        text = render(shell, exe)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale completion scripts: {', '.join(stale)}; run python completions/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
