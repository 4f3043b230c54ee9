"""The README's shell blocks, read as a new user reads them (issue 12 §5: "every shell block in
the README runs as written on a fresh machine; a test keeps it so"). The test that runs them is
tests/integration/test_readme_blocks.py; this module finds the blocks, the commands in them and
what the README says they print, and writes one bash session per section.

Rules the README follows:
- A shell block is a fenced block tagged `sh` (or `bash`, `shell`, `console`). Every one runs,
  unless the line right above its fence says why not: `<!-- readme-test: skip (why) -->`.
  A marker anywhere else, or without a reason, is an error.
- The blocks of one `## ` section run in order in one bash session, from the top of the
  checkout, as a reader pastes them into one terminal; each section starts a new session.
  The session stops at the first command that fails (`set -euo pipefail`: an unset variable
  fails too), and every curl call must answer 2xx unless its comment shows another status.
- A trailing comment that starts with `→` shows what the command prints, in substance:
  `# → 404 {"code":5,...,"details":[ErrorInfo]}` is an HTTP status (for a curl call) and
  fragments: each `"key": value` pair and each other name must appear in the command's output
  (whitespace aside); `...` leaves out the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

SHELL_TAGS = frozenset({"sh", "bash", "shell", "console"})
MARKER = re.compile(r"<!--\s*readme-test:(.*?)-->")
SKIP = re.compile(r"\s*skip\s*\((.*\S.*)\)\s*")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)\s*$")
SHOWS = "→"
PAIR = re.compile(r'"[^"\s]+"\s*:\s*(?:"[^"]*"|-?\d+(?:\.\d+)?|true|false|null)')
NAME = re.compile(r'"[^"]*"|\w[\w.]*')

# What the session writes besides the blocks' own output, each on a line of its own.
TAG = "@@readme-test"
PRELUDE = f"""\
set -euo pipefail
curl() {{ command curl -w '%{{stderr}}\\n{TAG} http %{{http_code}}\\n' "$@"; }}
trap 'printf "\\n{TAG} line %s\\n" "$LINENO" >&2' DEBUG
"""
DONE = f"printf '\\n{TAG} done\\n' >&2"


class ReadmeError(ValueError):
    """The README breaks a rule of this module (a misplaced marker, an unclosed block)."""


@dataclass(frozen=True)
class Shows:
    """What a `# → ...` comment says the command prints."""

    status: int | None
    fragments: tuple[str, ...]

    @classmethod
    def parse(cls, comment: str) -> Shows | None:
        if not comment.startswith(SHOWS):
            return None
        text = comment[len(SHOWS) :].strip()
        status = None
        found = re.match(r"([1-5]\d\d)\b\s*(.*)", text, re.S)
        if found:
            status, text = int(found.group(1)), found.group(2)
        pairs = PAIR.findall(text)
        rest = PAIR.sub(" ", text)
        names = [n for n in NAME.findall(rest) if n.strip('"')]
        return cls(status, tuple(squeeze(f) for f in (*pairs, *names)))

    def missing(self, output: str) -> list[str]:
        """The fragments `output` does not contain."""
        seen = squeeze(output)
        return [f for f in self.fragments if f not in seen]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Command:
    """One command of a block as the shell reads it (continuation lines and quoted newlines
    included): its first and last README line, and its trailing comment."""

    first: int
    last: int
    comment: str = ""

    @property
    def shows(self) -> Shows | None:
        return Shows.parse(self.comment)


@dataclass(frozen=True)
class Block:
    section: str
    # README line of the block's first line (the one after the fence).
    line: int
    text: str
    skip: str = ""
    commands: tuple[Command, ...] = field(default=())


def blocks(text: str) -> list[Block]:
    """Every shell block of a README, in order."""
    found: list[Block] = []
    section = ""
    lines = text.splitlines()
    pending: tuple[int, str] | None = None  # a marker waiting for its fence: (line, reason)
    n = 0
    while n < len(lines):
        line = lines[n]
        number = n + 1
        fence = FENCE.match(line)
        if pending and not (fence and pending[0] == number - 1):
            raise ReadmeError(
                f"README.md:{pending[0]}: a readme-test marker must stand on the line right "
                "above a shell block's fence"
            )
        if fence:
            end = next(
                (k for k in range(n + 1, len(lines)) if lines[k].strip() == fence.group(1)), None
            )
            if end is None:
                raise ReadmeError(f"README.md:{number}: the block is never closed")
            body = "\n".join(lines[n + 1 : end]) + "\n"
            tag = fence.group(2).lower()
            if tag in SHELL_TAGS:
                reason = pending[1] if pending else ""
                found.append(Block(section, number + 1, body, reason, commands(body, number + 1)))
            elif pending:
                raise ReadmeError(f"README.md:{pending[0]}: the marker is above a `{tag}` block")
            pending = None
            n = end + 1
            continue
        if line.startswith("## "):
            section = line[3:].strip()
        marker = MARKER.search(line)
        if marker:
            skip = SKIP.fullmatch(marker.group(1))
            if not skip:
                raise ReadmeError(
                    f"README.md:{number}: write the marker as `<!-- readme-test: skip (why) -->`"
                )
            pending = (number, skip.group(1).strip())
        n += 1
    if pending:
        raise ReadmeError(f"README.md:{pending[0]}: the marker is above no shell block")
    return found


def sections(text: str) -> dict[str, list[Block]]:
    """The blocks that run, by section, in the README's order."""
    found: dict[str, list[Block]] = {}
    for block in blocks(text):
        if not block.skip:
            found.setdefault(block.section, []).append(block)
    return found


def commands(text: str, first_line: int) -> tuple[Command, ...]:
    """Splits shell text into commands, as bash does for the README's kind of text: quotes
    (also across lines), `$(...)`, backslash continuations and `#` comments. `first_line` is
    the README line of the text's first line."""
    found: list[Command] = []
    nested: list[str] = []  # open quotes and parentheses, innermost last
    start: int | None = None
    comment = ""
    line = first_line
    i = 0
    while i < len(text):
        c = text[i]
        inner = nested[-1] if nested else ""
        word_start = i == 0 or text[i - 1] in " \t\n;|&()"
        comment_here = c == "#" and word_start and inner not in ("'", '"')
        if start is None and not c.isspace() and not comment_here:
            start = line
        if inner == "'":
            if c == "'":
                nested.pop()
        elif c == "\\":
            if text[i + 1 : i + 2] == "\n":
                line += 1
            i += 2
            continue
        elif inner == '"':
            if c == '"':
                nested.pop()
            elif text.startswith("$(", i):
                nested.append("(")
                i += 1
        elif comment_here:
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            if not nested and start is not None:
                comment = text[i + 1 : end].strip()
            i = end
            continue
        elif c in "'\"":
            nested.append(c)
        elif c == "(":
            nested.append("(")
        elif c == ")" and nested:
            nested.pop()
        elif c == "\n" and not nested and start is not None:
            found.append(Command(start, line, comment))
            start, comment = None, ""
        if c == "\n":
            line += 1
        i += 1
    if start is not None:
        found.append(Command(start, line, comment))
    return tuple(found)


@dataclass
class Session:
    """One section's blocks as one bash script: the blocks verbatim after a prelude that stops
    at the first failing command (`set -euo pipefail`), reports the line of each command it
    runs (a DEBUG trap, which command substitutions do not inherit) and the HTTP status of each
    curl call (a function that adds `-w`, nothing else); it ends with a `done` line."""

    blocks: list[Block]
    script: str = field(init=False)
    # Script line -> README line.
    lines: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        parts = [PRELUDE]
        self.lines = {}
        at = PRELUDE.count("\n") + 1
        for block in self.blocks:
            parts.append(f"# README.md:{block.line}\n")
            at += 1
            for k in range(block.text.count("\n")):
                self.lines[at + k] = block.line + k
            parts.append(block.text)
            at += block.text.count("\n")
        parts.append(DONE + "\n")
        self.script = "".join(parts)

    def commands(self) -> list[Command]:
        return [c for b in self.blocks for c in b.commands]

    def command_at(self, readme_line: int) -> Command | None:
        """The command that spans a README line (bash reports a line inside the command)."""
        return next((c for c in self.commands() if c.first <= readme_line <= c.last), None)

    def read(self, output: str, exit_code: int) -> Outcome:
        """What the session's merged stdout and stderr say about each command."""
        outcome = Outcome(exit_code)
        current: Command | None = None
        lines = output.splitlines()
        # Each line the prelude writes starts with a newline, in case the output before it
        # ended without one; where it did end with one, that makes an empty line: dropped.
        lines = [
            text
            for k, text in enumerate(lines)
            if text or k + 1 == len(lines) or not lines[k + 1].startswith(TAG)
        ]
        for text in lines:
            if not text.startswith(TAG):
                # bash names the script's line in its complaints: name the README's.
                text = re.sub(
                    r"^\S+: line (\d+): ",
                    lambda m: f"README.md:{self.lines.get(int(m.group(1)), '?')}: ",
                    text,
                )
                if current is not None:
                    outcome.output[current] = outcome.output.get(current, "") + text + "\n"
                outcome.transcript += text + "\n"
                continue
            word, _, value = text[len(TAG) :].strip().partition(" ")
            if word == "line":
                readme_line = self.lines.get(int(value))
                current = self.command_at(readme_line) if readme_line else None
                if current is not None and current not in outcome.output:
                    outcome.ran.append(current)
                    outcome.output[current] = ""
                    outcome.transcript += f"[README.md:{current.first}]\n"
            elif word == "http" and current is not None:
                outcome.statuses.setdefault(current, []).append(int(value))
                outcome.transcript += f"(HTTP {value})\n"
            elif word == "done":
                outcome.done = True
                current = None
        return outcome


@dataclass
class Outcome:
    exit_code: int
    done: bool = False
    ran: list[Command] = field(default_factory=list)
    output: dict[Command, str] = field(default_factory=dict)
    statuses: dict[Command, list[int]] = field(default_factory=dict)
    # The session's output, each command's under its README line (what a reader saw).
    transcript: str = ""

    def problems(self, session: Session) -> list[str]:
        """Everything that went wrong, each with its README line: a session that stopped, a
        command that did not run, a curl answer that is not 2xx (or not the status shown), and
        output that lacks what the README shows."""
        found: list[str] = []
        never = [c for c in session.commands() if c not in self.output]
        if self.exit_code != 0 or not self.done:
            where = f"README.md:{self.ran[-1].first}" if self.ran else "the prelude"
            found.append(
                f"the session stopped at {where} with exit code {self.exit_code}; "
                f"{len(never)} later commands did not run"
            )
        elif never:
            found += [f"README.md:{c.first}: never ran" for c in never]
        for command in session.commands():
            where = f"README.md:{command.first}"
            if command in never:
                continue
            shows = command.shows
            wanted = shows.status if shows else None
            statuses = self.statuses.get(command, [])
            if wanted is not None and wanted not in statuses:
                found.append(f"{where}: HTTP {wanted} expected, the curl calls got {statuses}")
            for status in statuses:
                if status != wanted and not 200 <= status < 300:
                    found.append(f"{where}: HTTP {status} (the README shows no error here)")
            if shows:
                missing = shows.missing(self.output[command])
                if missing:
                    found.append(
                        f"{where}: the output lacks {missing} (README: {command.comment}); "
                        f"it printed:\n{self.output[command].strip()}"
                    )
        return found
