"""How the README's shell blocks are read (devtools/readme_blocks.py): the commands in a block,
the skip markers, what a `# → ...` comment promises, and how a session's output is judged. The
blocks themselves run in tests/integration/test_readme_blocks.py."""

from __future__ import annotations

import subprocess

import pytest

from devtools import readme_blocks as readme
from devtools.readme_blocks import Command, ReadmeError, Session, Shows

FENCE = "```"


def test_a_command_spans_its_continuations_quoted_newlines_and_substitutions() -> None:
    text = (
        "# a comment alone is no command\n"
        "A=$(echo \"$(printf '%s' x)\" \\\n"
        "  | cat)   # → x\n"
        'curl -d \'{"a": 1,\n'
        '  "b": "# not a comment"}\' \\\n'
        '  http://host   # → 404 {"code":5,...}\n'
        "\n"
        'echo "two\n'
        'lines"; echo b\n'
    )
    assert readme.commands(text, 10) == (
        Command(11, 12, "→ x"),
        Command(13, 15, '→ 404 {"code":5,...}'),
        Command(17, 18, ""),
    )


def test_what_a_comment_shows() -> None:
    shows = Shows.parse('→ 404 {"code":5,...,"details":[ErrorInfo]}')
    assert shows == Shows(404, ('"code":5', '"details"', "ErrorInfo"))
    assert shows.missing('{"code": 5, "details": [{"@type": "x.ErrorInfo"}]}') == []
    assert shows.missing('{"code":7,"details":[]}') == ['"code":5', "ErrorInfo"]
    assert Shows.parse('→ "status": "SERVING"') == Shows(None, ('"status":"SERVING"',))
    assert Shows.parse("grpcurl, pinned") is None


def readme_text(*parts: str) -> str:
    return "\n".join(parts) + "\n"


def test_a_marker_skips_the_block_right_below_it_and_must_say_why() -> None:
    text = readme_text(
        "## One",
        "<!-- readme-test: skip (needs a cluster) -->",
        f"{FENCE}sh",
        "kubectl get pods",
        FENCE,
        f"{FENCE}sh",
        "echo hi",
        FENCE,
        FENCE,
        "a layout block is no shell block",
        FENCE,
    )
    found = readme.blocks(text)
    assert [(b.section, b.line, b.skip) for b in found] == [
        ("One", 4, "needs a cluster"),
        ("One", 7, ""),
    ]
    assert readme.sections(text) == {"One": [found[1]]}
    for bad, complaint in [
        (["<!-- readme-test: skip () -->", f"{FENCE}sh", "x", FENCE], "write the marker"),
        (["<!-- readme-test: run -->", f"{FENCE}sh", "x", FENCE], "write the marker"),
        (["<!-- readme-test: skip (why) -->", "", f"{FENCE}sh", "x", FENCE], "right above"),
        (["<!-- readme-test: skip (why) -->", f"{FENCE}yaml", "x: 1", FENCE], "`yaml` block"),
        (["<!-- readme-test: skip (why) -->"], "above no shell block"),
        ([f"{FENCE}sh", "x"], "never closed"),
    ]:
        with pytest.raises(ReadmeError, match=complaint):
            readme.blocks(readme_text("## One", *bad))


def test_the_readme_follows_the_rules() -> None:
    """Each shell block runs or its marker says why not; what runs is in a section."""
    found = readme.blocks(readme.README.read_text())
    assert [b for b in found if not b.skip], "the README has no block to run"
    for block in found:
        assert block.commands, f"README.md:{block.line}: an empty block"
        assert block.section, f"README.md:{block.line}: a block before any section"


def run(session: Session) -> readme.Outcome:
    """As the integration test runs it: stdout and stderr in one stream, in order."""
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", session.script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=30,
        check=False,
    )
    return session.read(done.stdout, done.returncode)


def session_of(*lines: str) -> Session:
    return Session(readme.sections(readme_text("## S", f"{FENCE}sh", *lines, FENCE))["S"])


def test_a_session_keeps_its_variables_and_checks_what_the_readme_shows() -> None:
    session = session_of(
        "X=$(echo hello |",
        "  tr h j)",
        'echo "$X"        # → jello',
        'echo "{\\"status\\": \\"SERVING\\"}"   # → {"status": "SERVING"}',
    )
    outcome = run(session)
    assert outcome.problems(session) == []
    assert outcome.output[session.commands()[1]] == "jello\n"


def test_a_session_names_the_readme_line_that_failed() -> None:
    session = session_of("echo one   # → two", 'echo "$NEVER_SET"', "echo never")
    outcome = run(session)
    stopped, lacks = outcome.problems(session)
    assert stopped == (
        "the session stopped at README.md:4 with exit code 1; 1 later commands did not run"
    )
    assert lacks.startswith("README.md:3: the output lacks ['two']")
    assert "README.md:4: NEVER_SET: unbound variable" in outcome.transcript


def test_every_curl_call_answers_2xx_unless_the_readme_shows_its_status() -> None:
    session = session_of(
        "ID=$(curl -s http://h/a | jq -r .id)",
        "curl -s http://h/b",
        'curl -s -i http://h/nope   # → 404 {"code":5}',
    )
    tag, lines = readme.TAG, {v: k for k, v in session.lines.items()}
    output = "\n".join(
        [
            f"{tag} line {lines[3]}",
            f"{tag} http 200",
            f"{tag} line {lines[4]}",
            f"{tag} http 401",
            '{"code":16}',
            f"{tag} line {lines[5]}",
            "HTTP/1.1 404 Not Found",
            f"{tag} http 404",
            '{"code":5}',
            f"{tag} done",
        ]
    )
    assert session.read(output, 0).problems(session) == [
        "README.md:4: HTTP 401 (the README shows no error here)"
    ]
