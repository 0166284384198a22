"""The README's Python example runs, twice (as on a fresh and an existing database), and
prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def expected_output(block: str) -> list[str]:
    return [match.strip() for match in re.findall(r"print\(.*\)\s+# (.*)", block)]


def test_every_python_block_compiles() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        compile(block, str(README), "exec")


def test_the_python_api_example_prints_what_it_says() -> None:
    (block,) = [block for block in python_blocks() if "LLMRoutingEngine(db)" in block]
    expected = expected_output(block)
    assert len(expected) == 3
    for _ in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
        assert out.getvalue().splitlines() == expected
