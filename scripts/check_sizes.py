#!/usr/bin/env python3
"""check_sizes.py - the size rules of STYLE.md for src/: no file over 800
lines, no function over 80 (from the line of its opening brace to the line of
its closing one; the code is clang-formatted, so a function body opens and
closes with a brace alone in column 0). Prints each offender; exit 1 if any."""
import pathlib
import sys

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80


def offenders(path):
    lines = path.read_text().split("\n")
    if len(lines) > MAX_FILE_LINES:
        yield f"{path}: {len(lines)} lines (at most {MAX_FILE_LINES})"
    start = None
    for i, line in enumerate(lines):
        if line == "{":
            start = i
        elif line == "}" and start is not None:
            n = i - start + 1
            if n > MAX_FUNCTION_LINES:
                name = lines[start - 1].strip() if start else "?"
                yield f"{path}:{start}: {name} is {n} lines (at most {MAX_FUNCTION_LINES})"
            start = None


def main(root):
    found = [o for p in sorted(pathlib.Path(root).rglob("*.[ch]")) for o in offenders(p)]
    for o in found:
        print(o)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
