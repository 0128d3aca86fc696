"""Every Python block of README.md and docs/*.md runs, as written, on the embedded sample.

A page's blocks run in order in one namespace (a later block may use an earlier one's
names), in a fresh folder, after a prelude that defines the names the prose assumes
(``x_train``, ``y_train``, ``x_val``, ``x_test``, ``y_test``: 512 images of the
Fashion-MNIST sample, ``images``: 16 test images). Small settings replace long ones:
every ``epochs=N`` becomes ``epochs=1``, ``max_trials`` 1, and ``steps`` over 20 become 20.
A block that cannot run here is preceded by ``<!-- not run: <why> -->``, which this test reads.
"""

import re
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- not run: (?P<why>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)
SMALL = [(r"\bepochs=\d+", "epochs=1"), (r"\bmax_trials=\d+", "max_trials=1"),
         (r"\bsteps=(?:[2-9]\d|\d{3,})\b", "steps=20")]
PRELUDE = """
from zoo import load_dataset
_data = load_dataset("fashion_mnist", source="sample")
x_train, y_train = _data.x_train[:512], _data.y_train[:512]
x_val, x_test, y_test = _data.x_val[:256], _data.x_test[:256], _data.y_test[:256]
images = x_test[:16]
"""


def blocks(page: str) -> list:
    """``(code, why_not_run)`` of every Python block of ``page``."""
    return [(m["code"], m["why"]) for m in BLOCK.finditer((ROOT / page).read_text())]


def test_the_docs_have_code_and_every_skipped_block_says_why():
    found = {page: blocks(page) for page in PAGES}
    assert sum(len(b) for b in found.values()) >= 12
    assert all(why.strip() for page in found.values() for _, why in page if why is not None)


@pytest.mark.parametrize("page", [page for page in PAGES if blocks(page)])
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setenv("ZOO_PRESET_DIR", str(tmp_path / "presets"))
    namespace = {}
    exec(compile(PRELUDE, "prelude", "exec"), namespace)
    policy = keras.config.dtype_policy()
    try:
        for number, (code, why) in enumerate(blocks(page), start=1):
            if why is not None:
                continue
            for pattern, small in SMALL:
                code = re.sub(pattern, small, code)
            exec(compile(code, f"{page}, block {number}", "exec"), namespace)
    finally:
        keras.config.set_dtype_policy(policy)  # a block may set a mixed policy
