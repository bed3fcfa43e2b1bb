"""The Python setup leaves the machine clean (issue 10 item 7).

`bin/stack install` makes `.venv` in the checkout from `requirements.lock` (pip-tools: exact versions and
the sha256 of every file) and never installs into the system Python; every script runs `.venv`'s
interpreter. These tests fail when pyproject.toml and the lock disagree (run `bin/stack lock`), when a
script calls the system's `python3`, or when the README names a command that needs packages the system
Python does not have.
"""
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# bin/, .ci/run and bench/run: the shell scripts a person or CI runs.
SCRIPTS = sorted(p for p in (ROOT / "bin").iterdir() if p.is_file()) + [ROOT / ".ci" / "run", ROOT / "bench" / "run"]


def _locked() -> dict[str, dict]:
    """Every entry of the lock: canonical name -> {version, hashes}."""
    entries: dict[str, dict] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: \\)?", line)
            assert match, f"requirements.lock: not an exact pin: {line!r}"
            current = entries.setdefault(canonicalize_name(match.group(1)), {"version": match.group(2), "hashes": []})
        else:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
            assert hashes and current is not None, f"requirements.lock: unexpected line {line!r}"
            current["hashes"] += hashes
    return entries


def _pyproject_requirements() -> list[str]:
    """pyproject.toml's dependencies, every extra, and the build backend (the editable install's setuptools)."""
    extras = PROJECT["project"].get("optional-dependencies", {})
    return [*PROJECT["project"]["dependencies"], *(r for group in extras.values() for r in group),
            *PROJECT["build-system"]["requires"]]


def test_every_entry_of_the_lock_is_an_exact_version_with_the_hash_of_its_files():
    locked = _locked()
    assert len(locked) > 20
    assert not [name for name, entry in locked.items() if not entry["hashes"]]


@pytest.mark.parametrize("text", _pyproject_requirements())
def test_every_requirement_of_pyproject_is_pinned_in_the_lock_within_its_range(text):
    requirement = Requirement(text)
    entry = _locked().get(canonicalize_name(requirement.name))
    assert entry, f"{requirement.name} is in pyproject.toml but not in requirements.lock: run bin/stack lock"
    assert requirement.specifier.contains(entry["version"], prereleases=True), (
        f"requirements.lock pins {requirement.name}=={entry['version']}, outside pyproject's "
        f"{requirement.specifier}: run bin/stack lock --upgrade-package {requirement.name}")


def test_the_lock_holds_the_benchmarks_and_tests_extras_so_every_readme_command_has_its_packages():
    locked = _locked()
    for extra in ("test", "bench"):
        for text in PROJECT["project"]["optional-dependencies"][extra]:
            assert canonicalize_name(Requirement(text).name) in locked, extra


def test_the_lock_names_no_package_that_nothing_in_pyproject_brings():
    """Each entry says `# via`; one brought by nothing is a leftover of a dependency since removed."""
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
    orphans = [block.split("==", 1)[0] for block in blocks if re.match(r"[A-Za-z0-9]", block) and "# via" not in block]
    assert not orphans, f"{orphans}: run bin/stack lock"


def test_the_virtual_environment_stays_out_of_git():
    assert ".venv/" in (ROOT / ".gitignore").read_text().splitlines()


def _code(line: str) -> str:
    """A shell line without its comment (a `#` after a blank or at the start)."""
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


# A program named where a shell command starts: line start, after ; & | ( $( exec then do else, after
# `env VAR...`, or after bin/up's `start NAME ... --`.
COMMAND_FROM_PATH = re.compile(
    r"(?:^|[;&|(]|\$\(|\b(?:exec|then|do|else)\s|\benv(?:\s+\"[^\"]*\")+\s|\s--\s)\s*"
    r"(python3?|python3\.\d+|pip3?|gunicorn|supervisord|supervisorctl|pytest|mesa)(?=\s|$)")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_script_runs_the_system_python_or_a_program_from_path_that_venv_has(script):
    """Each runs `"$PY"`/`.venv/bin/...`; bin/stack's BASE_PYTHON only makes .venv and hashes a download."""
    offending = [line.strip() for line in script.read_text().splitlines()
                 if COMMAND_FROM_PATH.search(_code(line))
                 and not re.match(r"\s*start \S+ .*-- gunicorn ", line)]  # bin/up's start() takes it from .venv
    assert not offending, f"{script.name} runs a program from PATH instead of .venv: {offending}"


def test_the_script_check_sees_the_system_python_where_a_command_starts():
    assert COMMAND_FROM_PATH.search("exec python3 -m pytest")
    assert COMMAND_FROM_PATH.search('x=$(python3 -c "print(1)")')
    assert COMMAND_FROM_PATH.search('  [ -f x ] || supervisorctl -c "$CONF" update')
    assert COMMAND_FROM_PATH.search('env "${A[@]}" python3 -m intake.demo')
    assert COMMAND_FROM_PATH.search('start relay "${A[@]}" -- python3 -m intake.relay')
    assert not COMMAND_FROM_PATH.search('echo "[up] supervisord already running"')
    assert not COMMAND_FROM_PATH.search('"$PY" -m pip install -q x')


def test_bin_up_takes_every_program_it_starts_from_the_virtual_environment():
    up = (ROOT / "bin" / "up").read_text()
    assert 'set -- "$VENV/bin/$1"' in up  # start() replaces gunicorn & co. by .venv's


def test_bin_stack_installs_only_into_the_virtual_environment_from_the_lock_with_hashes():
    stack = (ROOT / "bin" / "stack").read_text()
    pip_lines = [_code(line) for line in stack.splitlines() if re.search(r"\bpip\b.* install\b", _code(line))]
    assert pip_lines
    for line in pip_lines:
        assert '"${pip[@]}"' in line or "$tools/bin/python" in line, line  # .venv's pip, or the lock tools' venv
    assert "--require-hashes" in stack and '-r "$LOCK"' in stack and "--no-build-isolation" in stack


README_COMMANDS = re.compile(r"`([^`\n]+)`|^ {4}(\S.*)$", re.M)


@pytest.mark.parametrize("readme", ["README.md", "bench/README.md"])
def test_readme_commands_never_need_packages_in_the_system_python(readme):
    """`python bench/x.py` on a fresh clone fails: the packages are in .venv. Commands name its interpreter."""
    text = (ROOT / readme).read_text()
    # bench/README.md's mutation testing makes its own throwaway venv on purpose (not the project's).
    text = re.sub(r"```sh\n(?:(?!```).)*?/tmp/mutvenv.*?```", "", text, flags=re.S)
    commands = [(a or b).strip() for a, b in README_COMMANDS.findall(text)]
    bare = [c for c in commands if re.match(r"(python3?|pip3?)\s+(?!-m (intake|query|sla|notifier)\.)", c)]
    assert not bare, f"{readme}: commands for the system Python: {bare}"
