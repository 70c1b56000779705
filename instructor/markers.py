"""Solution markers: `# BEGIN SOLUTION` / `# END SOLUTION` around the graded body of a function.

The spelling is otter-grader's and nbgrader's. A marked block is replaced, in the student
edition, at the marker's indentation, by

    raise NotImplementedError(
        "TODO: write forward (helpers/forward_process.py): Noise x0 to timestep t in one jump"
        " (course Eq. A.2, DDPM Eq. 4). Check it with: make check FUNC=forward"
    )

naming the function, its file, the hint (the first line of the enclosing function's docstring,
which names the equation, or of its class's for methods such as __init__) and the public check
(`make check FUNC=<function>`, or the class for a method). Signatures and docstrings stay outside
the markers.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import PurePath

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


class MarkerError(ValueError):
    """Unpaired, nested or misplaced solution markers; the message names the file and line."""


@dataclass
class Block:
    begin: int  # 0-based line index of "# BEGIN SOLUTION"
    end: int  # 0-based line index of "# END SOLUTION"
    indent: str
    function: str  # e.g. "forward" or "UnconditionalUNet.__init__"
    hint: str


def _owners(tree: ast.Module) -> list[tuple[int, int, str, str]]:
    """(first line, last line, qualified name, hint) of every function, 1-based lines."""
    owners = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            class_doc = (ast.get_docstring(node) or "").strip().splitlines()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    doc = (ast.get_docstring(item) or "").strip().splitlines() or class_doc
                    owners.append(
                        (
                            item.lineno,
                            item.end_lineno,
                            f"{node.name}.{item.name}",
                            doc[0] if doc else "",
                        )
                    )
    seen = {o[0] for o in owners}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.lineno not in seen:
            doc = (ast.get_docstring(node) or "").strip().splitlines()
            owners.append((node.lineno, node.end_lineno, node.name, doc[0] if doc else ""))
    return owners


def find_blocks(source: str, filename: str = "<source>") -> list[Block]:
    """Every marked block of a Python source, checked: paired, not nested, inside a function."""
    lines = source.splitlines()
    blocks, open_at = [], None
    for i, line in enumerate(lines):
        if BEGIN.match(line):
            if open_at is not None:
                raise MarkerError(
                    f"{filename}:{i + 1}: BEGIN SOLUTION nested in the block of line {open_at + 1}"
                )
            open_at = i
        elif END.match(line):
            if open_at is None:
                raise MarkerError(f"{filename}:{i + 1}: END SOLUTION without a BEGIN SOLUTION")
            blocks.append((open_at, i))
            open_at = None
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise MarkerError(
                f"{filename}:{i + 1}: a solution marker must be alone on its line: {line.strip()!r}"
            )
    if open_at is not None:
        raise MarkerError(f"{filename}:{open_at + 1}: BEGIN SOLUTION is never closed")
    owners = _owners(ast.parse(source, filename))
    result = []
    for begin, end in blocks:
        # the block's first code line (1-based: begin + 2) lies in the function's body
        enclosing = [o for o in owners if o[0] < begin + 1 and begin + 2 <= o[1]]
        if not enclosing:
            raise MarkerError(
                f"{filename}:{begin + 1}: a solution block must lie inside a function"
            )
        _, _, name, hint = max(enclosing, key=lambda o: o[0])  # the innermost
        indent = BEGIN.match(lines[begin]).group(1)
        result.append(Block(begin, end, indent, name, hint))
    return result


LINE_LENGTH = 100  # the kit's ruff line length


def todo_message(block: Block, filename: str) -> str:
    """What a student reads when calling an unwritten function: name, file, hint, how to check."""
    parts = PurePath(filename).parts
    if "helpers" in parts:  # helpers/forward_process.py, wherever the kit lies
        parts = parts[len(parts) - 1 - parts[::-1].index("helpers") :]
    check = block.function.split(".")[0]  # a method is checked with its class
    return (
        f"TODO: write {block.function} ({'/'.join(parts)}): {block.hint.rstrip('.')}."
        f" Check it with: make check FUNC={check}"
    )


def _raise(message: str, indent: str) -> list[str]:
    """`raise NotImplementedError(...)` at indent, the message cut into lines that fit."""
    width = LINE_LENGTH - len(indent) - 4 - 2  # the inner indent and the quotes
    pieces, piece = [], ""
    for word in message.split(" "):
        if piece and len(_quote(f"{piece} {word}")) > width:
            pieces.append(piece)
            piece = " " + word
        else:
            piece = f"{piece} {word}" if piece else word
    pieces.append(piece)
    if len(pieces) == 1 and len(indent) + len(_quote(message)) + 27 <= LINE_LENGTH:
        return [f"{indent}raise NotImplementedError({_quote(message)})\n"]
    body = [f"{indent}    {_quote(p)}\n" for p in pieces]
    return [f"{indent}raise NotImplementedError(\n", *body, f"{indent})\n"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stub(source: str, filename: str = "<source>", keep=frozenset()) -> str:
    """The student version of a source: every marked block becomes a NotImplementedError.

    keep: functions and classes (by name, e.g. "forward", "Conv") whose blocks stay written.
    """
    lines = source.splitlines(keepends=True)
    for block in reversed(find_blocks(source, filename)):
        if block.function.split(".")[0] in keep:
            continue
        message = todo_message(block, filename)
        lines[block.begin : block.end + 1] = _raise(message, block.indent)
    return "".join(lines)


def solution_lines(source: str, filename: str = "<source>") -> list[str]:
    """The stripped code lines inside the marked blocks (what must never reach students)."""
    lines = source.splitlines()
    inside = []
    for block in find_blocks(source, filename):
        inside += [lines[i].strip() for i in range(block.begin + 1, block.end)]
    return [line for line in inside if line and not line.startswith("#")]
