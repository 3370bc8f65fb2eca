"""Hostile archives: each is refused with its own code and leaves no trace anywhere.

Every case runs against a sandbox: a tree of sentinel files around the staging directory is
snapshotted (paths, types, sizes, hashes) before and after, and must not change; the
staging directory must be empty again and the destination must not exist.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ontolab.errors import OntolabError, UnsafeArchive
from ontolab.extract import extract
from ontolab.extract._tree import OutputFile
from ontolab.policy import ArchivePolicy
from ontolab.testing import hpo_obo_path
from ontolab.testing.hostile import (
    HOSTILE_CASES,
    HostileCase,
    gzip_bomb,
    many_entries_zip,
    tar_hardlink_escape,
    tar_symlink_escape,
    tar_symlink_through,
    write_real_archives,
    zip_symlink,
)

pytestmark = pytest.mark.chaos
LENIENT = ArchivePolicy(allow_symlinks=True, allow_hardlinks=True)


@dataclass
class Sandbox:
    root: Path
    cases: Path
    staging: Path
    dest: Path

    def snapshot(self) -> dict[str, tuple[str, int, str]]:
        """Every path under root (but the inputs) with its type, size and content hash."""
        seen: dict[str, tuple[str, int, str]] = {}
        for top, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(top, name)
                if self.cases in (path, *path.parents):
                    continue
                rel = str(path.relative_to(self.root))
                if path.is_symlink():
                    seen[rel] = ("link", 0, os.readlink(path))
                elif path.is_dir():
                    seen[rel] = ("dir", 0, "")
                else:
                    seen[rel] = ("file", path.stat().st_size, _sha(path))
        return seen

    def refused(self, source: Path, policy: ArchivePolicy | None = None) -> OntolabError:
        """Run extract, expect a refusal, and check nothing was left behind."""
        before = self.snapshot()
        with pytest.raises(OntolabError) as info:
            extract(source, self.dest, policy=policy or ArchivePolicy(), staging=self.staging)
        assert self.snapshot() == before
        assert not os.path.lexists(self.dest)
        assert list(self.staging.iterdir()) == []
        for place in (self.root, self.root.parent, self.root.parent.parent):
            assert not (place / "evil.txt").exists()
        return info.value


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def hp_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_real_archives(tmp_path_factory.mktemp("hp-archives"), hpo_obo_path())


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    # Escapes from the work dir (staging/extract-*/tree) of one or two levels land inside
    # tmp_path, where the snapshot sees them; sentinels sit where an escape would write.
    staging = tmp_path / "data" / "staging" / "extract"
    staging.mkdir(parents=True)
    cases = tmp_path / "cases"
    cases.mkdir()
    for sentinel in ("data/sentinel.txt", "data/staging/sentinel.txt", "sentinel/etc/passwd"):
        path = tmp_path / sentinel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"sentinel {sentinel}\n")
    return Sandbox(tmp_path, cases, staging, tmp_path / "data" / "extracted" / "x")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", HOSTILE_CASES, ids=[c.name for c in HOSTILE_CASES])
def test_every_hostile_case_is_refused_with_its_code_and_leaves_nothing(
    sandbox: Sandbox, case: HostileCase
) -> None:
    error = sandbox.refused(case.write(sandbox.cases))
    assert error.code == case.code
    assert error.reason == "unsafe_archive"
    assert isinstance(error, UnsafeArchive) == (case.code != "E_ARCHIVE_CORRUPT")
    assert error.path and error.path.isprintable()


def test_the_cases_have_distinct_names_and_cover_every_code() -> None:
    assert len({c.name for c in HOSTILE_CASES}) == len(HOSTILE_CASES)
    assert {c.code for c in HOSTILE_CASES} >= {
        "E_ARCHIVE_TRAVERSAL",
        "E_ARCHIVE_ABSOLUTE_PATH",
        "E_ARCHIVE_BAD_NAME",
        "E_ARCHIVE_CASE_COLLISION",
        "E_ARCHIVE_SYMLINK",
        "E_ARCHIVE_HARDLINK",
        "E_ARCHIVE_DEVICE",
        "E_ARCHIVE_RATIO",
        "E_ARCHIVE_TOO_DEEP",
        "E_ARCHIVE_TOO_MANY_ENTRIES",
        "E_ARCHIVE_CORRUPT",
    }


@pytest.mark.timeout(60)
def test_generation_is_deterministic_and_small(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for case in HOSTILE_CASES:
        first, second = case.write(one), case.write(two)
        assert first.read_bytes() == second.read_bytes(), case.name
        assert first.stat().st_size < 11_000_000, case.name


@pytest.mark.parametrize(
    ("write", "code"),
    [
        (tar_symlink_escape, "E_ARCHIVE_TRAVERSAL"),
        (zip_symlink, "E_ARCHIVE_TRAVERSAL"),
        (tar_hardlink_escape, "E_ARCHIVE_TRAVERSAL"),
        (tar_symlink_through, "E_ARCHIVE_SYMLINK"),
    ],
)
def test_allowed_links_must_still_stay_inside(
    sandbox: Sandbox, write: Callable[[Path], Path], code: str
) -> None:
    assert sandbox.refused(write(sandbox.cases), LENIENT).code == code


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of every write extract makes to an output file."""
    sizes: list[int] = []
    original = OutputFile.write

    def counting(self: OutputFile, data: bytes) -> None:
        sizes.append(len(data))
        original(self, data)

    monkeypatch.setattr(OutputFile, "write", counting)
    return sizes


@pytest.mark.timeout(60)
def test_the_1_gib_bomb_is_stopped_after_a_few_mib(sandbox: Sandbox, written: list[int]) -> None:
    bomb = gzip_bomb(sandbox.cases)
    assert bomb.stat().st_size < 1_100_000
    error = sandbox.refused(bomb)
    assert error.code == "E_ARCHIVE_RATIO"
    assert 0 < sum(written) < 300_000_000
    assert sum(written) <= 4 << 20  # ratio 200 from the first MiB on: it never gets far
    assert "bomb.gz" in error.message


@pytest.mark.timeout(60)
def test_100k_entries_are_refused_before_any_is_written(
    sandbox: Sandbox, written: list[int]
) -> None:
    archive = many_entries_zip(sandbox.cases)
    with zipfile.ZipFile(archive) as check:  # the generator wrote what it claims
        assert len(check.infolist()) == 100_000
    assert sandbox.refused(archive).code == "E_ARCHIVE_TOO_MANY_ENTRIES"
    assert written == []


def _tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_refusal_after_good_entries_removes_them(sandbox: Sandbox, written: list[int]) -> None:
    good = [(f"ontology/part-{i}.owl", b"<rdf:RDF/>\n" * 100) for i in range(5)]
    source = sandbox.cases / "late.tar"
    source.write_bytes(_tar_bytes([*good, ("../../evil.txt", b"evil\n")]))
    assert sandbox.refused(source).code == "E_ARCHIVE_TRAVERSAL"
    assert sum(written) == 5 * 1100  # they were written, then removed with the work dir


def test_streamed_entry_count_is_enforced_without_a_directory(sandbox: Sandbox) -> None:
    source = sandbox.cases / "many.tar"
    source.write_bytes(_tar_bytes([(f"f{i}.obo", b"x") for i in range(11)]))
    assert sandbox.refused(source, ArchivePolicy(max_entries=10)).code == (
        "E_ARCHIVE_TOO_MANY_ENTRIES"
    )


@pytest.mark.parametrize(
    ("kind", "policy", "code"),
    [
        ("gz", ArchivePolicy(max_entry_bytes=3_000_000), "E_ARCHIVE_ENTRY_TOO_LARGE"),
        ("zip", ArchivePolicy(max_entry_bytes=3_000_000), "E_ARCHIVE_ENTRY_TOO_LARGE"),
        ("tar.xz", ArchivePolicy(max_total_bytes=5_000_000), "E_ARCHIVE_TOO_LARGE"),
        ("nested.zip", ArchivePolicy(max_depth=1), "E_ARCHIVE_TOO_DEEP"),
        ("xz", ArchivePolicy(max_ratio=2), "E_ARCHIVE_RATIO"),
    ],
)
def test_limits_stop_real_archives_mid_stream(
    sandbox: Sandbox,
    hp_archives: dict[str, Path],
    written: list[int],
    kind: str,
    policy: ArchivePolicy,
    code: str,
) -> None:
    assert sandbox.refused(hp_archives[kind], policy).code == code
    assert sum(written) <= 5_000_000


def test_a_symlinked_destination_is_never_followed(
    sandbox: Sandbox, hp_archives: dict[str, Path], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sandbox.dest.parent.mkdir(parents=True)
    sandbox.dest.symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        extract(hp_archives["zip"], sandbox.dest, policy=ArchivePolicy(), staging=sandbox.staging)
    assert list(elsewhere.iterdir()) == []
    assert list(sandbox.staging.iterdir()) == []
