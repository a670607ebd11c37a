"""`cnncalc demo`: every step prints its command and that command's real output."""

from __future__ import annotations

from cnncalc.demo import STEPS


def test_demo_runs_every_step_through_the_real_commands(cli):
    r = cli("demo")
    assert r.code == 0, r.err
    position = 0
    for step in STEPS:
        alone = cli(*step.argv)
        assert alone.code == 0, (step.command, alone.err)
        # the step's heading, then its command, then exactly what the command prints on its own
        position = r.out.index(step.title, position)
        position = r.out.index(f"$ {step.command}", position)
        position = r.out.index(alone.out, position)


def test_demo_covers_the_worksheet():
    commands = [step.argv[0] for step in STEPS]
    assert {"backprop", "shape", "conv", "toeplitz"} <= set(commands)
    joined = " ".join(step.command for step in STEPS)
    for fragment in ("--at x=-2,y=5,z=-4", "--p 1 --s 2", "toeplitz --W 9 --k k1:3", "1/4*[[1,1],[1,1]]",
                     "--W W --K K --p p --s s"):
        assert fragment in joined


def test_worksheet_answers_appear(cli):
    out = cli("demo").out
    for answer in ("f = -12", "∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3", "Output size: 7", "Output size: 5",
                   "y1 = k1·x1 + k2·x2 + k3·x3", "M ∈ ℝ^(7 × 9)", "floor((-K + W + 2*p)/s) + 1"):
        assert answer in out, answer
