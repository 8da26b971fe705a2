"""Issue 11, item 8: hostile files at the command line.

Invalid UTF-8, NUL bytes, 5000-deep nesting, integers of over 4300 digits, a byte order
mark, truncated JSON, an array of non-objects, an empty file, a directory, a missing file,
a FIFO, standard input: each gives one line on stderr naming the file and the line (and
what is wrong) and the documented exit code (1: documents refused; 2: a file that cannot
be read at all), never a traceback. JSON Lines are read as a stream, in bounded memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue

from .cli_run import SCRIPT, Ran, run_cli

GOOD = sample_path("findings.jsonl").read_bytes().splitlines()  # four findings, one a line
FINDING = json.loads(GOOD[0])
ENV = {"VECTORVUE_BASE_URL": "https://127.0.0.1:9", "VECTORVUE_API_KEY": "test-key"}
DEEP = b"[" * 5000 + b"]" * 5000


def dry_run(path: str, *extra: str, stdin: bytes | None = None) -> Ran:
    return run_cli("send", path, "--dry-run", *extra, env=ENV, stdin=stdin)


def jsonl(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def assert_one_line(ran: Ran, start: str, *words: str, code: int = 1) -> None:
    """Exit `code`; stderr one line that starts with `start` and holds `words`; no
    traceback."""
    assert ran.returncode == code, (ran.returncode, ran.stderr)
    assert "Traceback" not in ran.stderr
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith(f"vectorvue-client: {start}"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def test_invalid_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    """A byte that is not UTF-8, in JSON Lines and in an array: exit 1, the line named."""
    bad = GOOD[1].replace(b"sshd", b"ss\xffhd")
    path = write(tmp_path, "latin.jsonl", jsonl(GOOD[0], bad, GOOD[2]))
    ran = dry_run(path)
    assert_one_line(ran, f"{path}: line 2: not UTF-8 text", "0xff", "nothing was sent")
    assert "refused: line 2: not UTF-8 text" in ran.stdout
    array = write(tmp_path, "latin.json", b"[\n" + GOOD[0] + b",\n" + bad + b"\n]\n")
    assert_one_line(dry_run(array), f"{array}: line 3 (item 2): not UTF-8 text")


def test_nul_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    """A NUL byte (a binary file, or UTF-16 without its mark): exit 1, the line named."""
    path = write(tmp_path, "nul.jsonl", jsonl(GOOD[0], GOOD[1], b"\x00" + GOOD[2]))
    assert_one_line(dry_run(path), f"{path}: line 3: a NUL byte at column 1")
    array = write(tmp_path, "nul.json", b"[\n" + GOOD[0] + b",\n" + b"\x00" + GOOD[1] + b"]")
    assert_one_line(dry_run(array), f"{array}: line 3: a NUL byte at column 1")


def test_5000_deep_nesting_is_refused_with_its_line(tmp_path: Path) -> None:
    """5000 nested arrays: refused with its line, in JSON Lines and in an array file. As
    too deep to read under Python 3.12 (msgspec stops at the interpreter's recursion
    limit, about 1000); Python 3.13 reads it (its limit is about 10,000), and the document,
    not being an object, is refused next. Either way one line, never a traceback."""
    refused = ("JSON nested too deeply", "must be a JSON object")
    path = write(tmp_path, "deep.jsonl", jsonl(GOOD[0], DEEP, GOOD[1]))
    ran = dry_run(path)
    assert_one_line(ran, f"{path}: line 2: ")
    assert any(reason in ran.stderr for reason in refused), ran.stderr
    assert "2 item(s) from 3 document(s)" in ran.stdout
    array = write(tmp_path, "deep.json", b"[\n" + GOOD[0] + b",\n" + DEEP + b"\n]")
    ran = dry_run(array)
    assert_one_line(ran, f"{array}: line 3")
    assert any(reason in ran.stderr for reason in refused), ran.stderr


def test_an_integer_of_5000_digits_is_refused_with_its_line(tmp_path: Path) -> None:
    """Over Python's 4300-digit limit for integers: refused, not a ValueError."""
    huge = json.dumps({**FINDING, "metadata": {"cvss": 1}}).replace("1}", "9" * 5000 + "}")
    path = write(tmp_path, "huge.jsonl", jsonl(GOOD[0], huge.encode()))
    assert_one_line(dry_run(path), f"{path}: line 2: an integer of more than 4300 digits")


def test_a_byte_order_mark_at_the_start_is_skipped(
    local_vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    """A UTF-8 BOM (as Windows tools write) at the very start: accepted and skipped, in
    JSON Lines (sent, exit 0) and in an array; anywhere else it is its line's problem."""
    bom = b"\xef\xbb\xbf"
    path = write(tmp_path, "bom.jsonl", bom + jsonl(*GOOD))
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
    }
    ran = run_cli("send", path, "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["accepted"] == 4
    assert len(local_vectorvue.accepted_findings()) == 4
    array = write(tmp_path, "bom.json", bom + b"[" + b",".join(GOOD) + b"]")
    ran = dry_run(array)
    assert ran.returncode == 0, ran.stderr
    assert "4 item(s) from 4 document(s) would be sent" in ran.stdout
    middle = write(tmp_path, "middle.jsonl", jsonl(GOOD[0], bom + GOOD[1]))
    assert_one_line(dry_run(middle), f"{middle}: line 2: a UTF-8 byte order mark")


def test_utf16_text_cannot_be_read(tmp_path: Path) -> None:
    """UTF-16 (PowerShell's `>`): the file cannot be read at all, exit 2, say so."""
    text = "\ufeff" + jsonl(*GOOD).decode()
    path = write(tmp_path, "utf16.jsonl", text.encode("utf-16-le"))
    assert_one_line(dry_run(path), f"{path}: UTF-16 text", "convert it to UTF-8", code=2)


def test_truncated_json_is_refused_with_its_line(tmp_path: Path) -> None:
    """A last line cut short, an array cut short: exit 1, the line where it stops."""
    path = write(tmp_path, "cut.jsonl", jsonl(*GOOD[:3]) + GOOD[3][:60])
    ran = dry_run(path)
    assert_one_line(ran, f"{path}: line 4: not JSON: it ends before the value does")
    assert "3 item(s) from 4 document(s)" in ran.stdout
    array = write(tmp_path, "cut.json", b"[\n" + GOOD[0] + b",\n" + GOOD[1][:60])
    assert_one_line(dry_run(array), f"{array}: line 3: not JSON: it ends before")
    # A first line cut short is not mistaken for the start of a pretty-printed object
    # when the next line is an object on its own...
    first = write(tmp_path, "first.jsonl", jsonl(b'{"title": "cut", "tags": [', *GOOD[1:]))
    ran = dry_run(first)
    assert_one_line(ran, f"{first}: line 1: not JSON: it ends before the value does")
    assert "3 item(s) from 4 document(s)" in ran.stdout
    # ... and a pretty-printed object is one document, cut short or not.
    pretty = json.dumps(FINDING, indent=2).encode()
    assert dry_run(write(tmp_path, "pretty.json", pretty)).returncode == 0
    cut = write(tmp_path, "cut-pretty.json", pretty[:-10])
    lines = pretty[:-10].rstrip().count(b"\n") + 1  # the last line with something on it
    assert_one_line(dry_run(cut), f"{cut}: line {lines}: not JSON: it ends before")


def test_an_array_of_non_objects_names_each_item_and_its_line(tmp_path: Path) -> None:
    """[finding, 1, "x", null]: each non-object refused with its line and item number."""
    data = [FINDING, 1, "x", None]
    path = write(tmp_path, "mixed.json", json.dumps(data, indent=1).encode())
    ran = dry_run(path)
    first = json.dumps(data, indent=1).splitlines().index(" 1,") + 1
    assert_one_line(ran, f"{path}: 3 documents refused, the first: line {first} (item 2):")
    assert f"refused: line {first} (item 2): (document): must be a JSON object" in ran.stdout
    assert f"refused: line {first + 2} (item 4): " in ran.stdout


@pytest.mark.parametrize(
    ("content", "what"),
    [(b"", "the file is empty"), (b"\n \n\t\n", "the file is blank"), (b" [ ] ", "empty")],
)
def test_a_file_without_documents_is_refused(tmp_path: Path, content: bytes, what: str) -> None:
    """Nothing to send is not success: exit 1, "no JSON document", the line."""
    path = write(tmp_path, "nothing.jsonl", content)
    assert_one_line(dry_run(path), f"{path}: line 1: no JSON document", what)


def test_a_directory_or_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    """Exit 2 and one line that starts with the file's name and says why."""
    for path, why in ((tmp_path, "is a directory"), (tmp_path / "nope", "no such file")):
        ran = run_cli("send", str(path), "--enqueue", env=ENV)
        assert_one_line(ran, f"{path}: cannot be read ({why}", code=2)
        assert "Errno" not in ran.stderr


def through_fifo(path: Path, content: bytes, *args: str, env: dict[str, str]) -> Ran:
    """Run the console script on a new FIFO at `path` that a thread feeds `content`."""
    os.mkfifo(path)

    def feed() -> None:
        with path.open("wb") as out:  # blocks until the command opens the FIFO
            out.write(content)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    ran = run_cli(*args, str(path), env=env)
    thread.join(5)
    return ran


def test_a_fifo_is_read_once_and_named(local_vectorvue: LocalVectorVue, tmp_path: Path) -> None:
    """A FIFO (bash's `<(...)`, a named pipe) can be read only once: it is spooled, so
    both readings (check, then send) work; a bad line is named by the path and line."""
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
    }
    bad = tmp_path / "bad-fifo"
    ran = through_fifo(bad, jsonl(GOOD[0], GOOD[1], GOOD[2][:30], GOOD[3]), "send", env=env)
    assert_one_line(ran, f"{bad}: line 3: not JSON", "nothing was sent")
    assert local_vectorvue.requests == []
    ran = through_fifo(tmp_path / "good-fifo", jsonl(*GOOD), "send", env=env)
    assert ran.returncode == 0, ran.stderr
    assert len(local_vectorvue.accepted_findings()) == 4


def test_standard_input_is_spooled_privately_and_named(tmp_path: Path) -> None:
    """`send -`: a bad line is named as "standard input" and its line; the spool file (in
    TMPDIR) is gone afterwards."""
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    env = {**ENV, "TMPDIR": str(spool_dir)}
    stdin = jsonl(GOOD[0], b'{"title": NaN}', GOOD[1])
    ran = run_cli("send", "-", "--enqueue", env=env, stdin=stdin)
    assert_one_line(ran, "standard input: line 2: not JSON: NaN is not a JSON number")
    ran = run_cli("send", "-", "--dry-run", "--json", env=env, stdin=jsonl(*GOOD))
    assert ran.returncode == 0, ran.stderr
    assert len(json.loads(ran.stdout)["would_send"]) == 4
    assert list(spool_dir.iterdir()) == []


def test_skip_invalid_sends_the_documents_around_hostile_lines(
    local_vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    """Good lines between hostile ones: without --skip-invalid nothing is sent; with it
    the four findings go (exit 1: some were refused), and --enqueue stores them."""
    huge = b'{"n": ' + b"9" * 5000 + b"}"
    lines = [GOOD[0], b"\xff", GOOD[1], DEEP, GOOD[2], huge, GOOD[3], b"\x00"]
    path = write(tmp_path, "hostile.jsonl", jsonl(*lines))
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
    }
    refused = run_cli("send", path, env=env)
    assert_one_line(refused, f"{path}: 4 documents refused, the first: line 2")
    assert local_vectorvue.requests == []
    ran = run_cli("send", path, "--skip-invalid", "--json", env=env)
    assert ran.returncode == 1
    data = json.loads(ran.stdout)
    assert (data["documents"], data["accepted"]) == (8, 4)
    assert [problem["line"] for problem in data["refused_locally"]] == [
        "line 2",
        "line 4",
        "line 6",
        "line 8",
    ]
    assert len(local_vectorvue.accepted_findings()) == 4
    # Progress lines come first on stderr (not a terminal); the last line is the summary,
    # a JSON object with --json.
    last = json.loads(ran.stderr.splitlines()[-1])
    assert last["exit_code"] == 1
    assert last["error"].startswith(f"{path}: 4 document(s) left out, the first: line 2: not UTF-8")
    ran = run_cli("send", path, "--enqueue", "--skip-invalid", "--json", env=env)
    assert ran.returncode == 1
    assert json.loads(ran.stdout)["accepted"] == 4


def test_refusal_lines_are_capped(tmp_path: Path) -> None:
    """A file of 1500 bad lines: the first 1000 refusals shown, then a count."""
    path = write(tmp_path, "bad.jsonl", jsonl(*[b'{"title": nope}'] * 1500))
    ran = dry_run(path)
    refused = [line for line in ran.stdout.splitlines() if line.startswith("refused:")]
    assert len(refused) == 1001
    assert refused[-1] == "refused: 500 more (only the first 1000 shown)"
    data = json.loads(dry_run(path, "--json").stdout)
    assert (len(data["refused_locally"]), data["refused_locally_omitted"]) == (1000, 500)


def peak_rss_mib(*args: str) -> tuple[int, float]:
    """Run the console script; its exit code and its peak RSS (VmHWM, polled from /proc
    while it runs: ru_maxrss would carry this process's own peak across the exec)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}, **ENV}
    peak = 0
    with subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    ) as child:
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError):
                pass  # exiting between two polls
            time.sleep(0.005)
    return child.returncode, peak / 1024


def test_a_large_json_lines_file_is_read_as_a_stream(tmp_path: Path) -> None:
    """A 160 MB JSON Lines file (400 findings of 400 kB of evidence each): a dry run's
    peak RSS stays within 64 MiB of the same run on a tiny file. Read whole, the text
    alone would take 160 MiB (and its lines and objects as much again each)."""
    path = tmp_path / "large.jsonl"
    with path.open("w") as out:
        for i in range(400):
            metadata = {"evidence": "A" * 400_000, "n": i}
            out.write(json.dumps({**FINDING, "title": f"finding {i}", "metadata": metadata}))
            out.write("\n")
    small = write(tmp_path, "small.jsonl", jsonl(GOOD[0]))
    code, baseline = peak_rss_mib("send", small, "--dry-run", "--json")
    assert code == 0
    code, peak = peak_rss_mib("send", str(path), "--dry-run", "--json")
    assert code == 0
    assert peak - baseline < 64, (baseline, peak)


def test_a_file_changed_between_the_two_readings_is_refused(tmp_path: Path) -> None:
    """What was checked is what is sent: a file changed after the first reading is
    refused (InputFileError, exit 2) before anything of the second reading is used."""
    from vectorvue_client.cli.inputs import Document, InputFile, InputFileError

    path = tmp_path / "moving.jsonl"
    path.write_bytes(jsonl(*GOOD))
    with InputFile(str(path)) as source:
        first = [part for part in source.documents() if isinstance(part, Document)]
        assert len(first) == 4
        with path.open("ab") as out:
            out.write(b'{"title": "appended after the check"}\n')
        with pytest.raises(InputFileError, match="changed while it was being read"):
            list(source.documents())
