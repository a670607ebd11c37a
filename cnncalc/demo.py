"""The guided tour behind ``cnncalc demo``: a backprop-and-CNN discussion, step by step.

Pure data: each step says what question it answers, why the answer comes out
as it does, and the exact ``cnncalc`` command that answers it. The CLI prints
the words, shows the command and runs it through the real core, so every
number on screen is computed, not stored here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    title: str
    why: str
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        """The step's command as a user would type it in a POSIX shell."""
        import shlex

        return "cnncalc " + " ".join(shlex.quote(a) for a in self.argv)


STEPS: tuple[Step, ...] = (
    Step(
        "1. Backprop through f(x, y, z) = (x + y)·z, one stage at a time",
        "Split f into an addition stage g = x + y and a product stage f = g·z. The forward pass fills in "
        "each stage's value from left to right; the backward pass starts from ∂f/∂f = 1 and multiplies "
        "each upstream gradient by the stage's local gradient: the product gate hands g the value of z "
        "and z the value of g, and the addition gate copies its upstream gradient to both x and y.",
        ("backprop", "g = x + y; f = g * z", "--at", "x=-2,y=5,z=-4"),
    ),
    Step(
        "2. A 3-tap kernel over a length-9 input: how many outputs?",
        "Without padding and with stride 1 the window can start at positions 1 through 7, "
        "so the output has 9 − 3 + 1 = 7 entries.",
        ("shape", "--W", "9", "--K", "3"),
    ),
    Step(
        "3. The same convolution, written out symbolically",
        "Deep-learning convolution slides the kernel without flipping it, so each output is one dot "
        "product of k with a window of x: the first window is (x1, x2, x3), the last (x7, x8, x9).",
        ("conv", "--x", "x1:9", "--k", "k1:3"),
    ),
    Step(
        "4. Padding 1 and stride 2",
        "One zero on each side makes the input 11 long; stride 2 keeps every other window start, "
        "so there are ⌊(9 + 2 − 3)/2⌋ + 1 = 5 outputs, and the first window meets the left zero.",
        ("conv", "--x", "x1:9", "--k", "k1:3", "--p", "1", "--s", "2"),
    ),
    Step(
        "5. The convolution is a matrix",
        "Because every output is a fixed linear combination of inputs, x' = M·x for a 7 × 9 matrix M: "
        "one row per window, each row the kernel moved one column to the right. Sharing the same three "
        "weights in every row is what weight sharing means.",
        ("toeplitz", "--W", "9", "--k", "k1:3"),
    ),
    Step(
        "6. A 2 × 2 averaging filter on a 3 × 3 image",
        "Each output is the mean of one 2 × 2 block of the image, so the filter blurs: exact fractions "
        "keep the answer exact.",
        ("conv", "--x", "[[1,2,3],[4,5,6],[7,8,9]]", "--k", "1/4*[[1,1],[1,1]]"),
    ),
    Step(
        "7. The general size rule",
        "With names instead of numbers the calculator gives the formula itself: W + 2p is the padded "
        "length, subtracting K leaves the room the window can move, dividing by s counts the steps, "
        "the floor drops a partial step, and + 1 counts the first placement.",
        ("shape", "--W", "W", "--K", "K", "--p", "p", "--s", "s"),
    ),
)
