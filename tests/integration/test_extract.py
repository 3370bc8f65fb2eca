"""Real ontologies, packed the ways publishers pack them, come out byte for byte."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from ontolab.errors import ExtractError
from ontolab.extract import ExtractReceipt, detect_container, extract
from ontolab.policy import ArchivePolicy
from ontolab.settings import ExtractSettings
from ontolab.testing import hpo_obo_path, kisao_owl_path, write_synthetic_owl
from ontolab.testing.hostile import write_real_archives

pytestmark = pytest.mark.integration
SOURCES = {"hp": hpo_obo_path(), "kisao": kisao_owl_path()}
DEFAULTS = ArchivePolicy.from_settings(ExtractSettings())
KINDS = {
    "gz": "gzip",
    "bz2": "bz2",
    "xz": "xz",
    "zst": "zstd",
    "zip": "zip",
    "tar.gz": "tar+gzip",
    "tar.xz": "tar+xz",
    "nested.zip": "zip",
}
CHAINS = {
    "gz": ("gzip",),
    "bz2": ("bz2",),
    "xz": ("xz",),
    "zst": ("zstd",),
    "zip": ("zip",),
    "tar.gz": ("tar+gzip",),
    "tar.xz": ("tar+xz",),
    "nested.zip": ("zip", "gzip"),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def _extract(
    source: Path, tmp_path: Path, *, name: str | None = None, policy: ArchivePolicy = DEFAULTS
) -> ExtractReceipt:
    return extract(source, tmp_path / "out", policy=policy, staging=tmp_path / "staging", name=name)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    return {
        key: write_real_archives(tmp_path_factory.mktemp(key), source)
        for key, source in SOURCES.items()
    }


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("ontology", list(SOURCES))
def test_real_archives_extract_to_identical_files(
    archives: dict[str, dict[str, Path]], tmp_path: Path, ontology: str, kind: str
) -> None:
    source, archive = SOURCES[ontology], archives[ontology][kind]
    original = source.read_bytes()
    receipt = _extract(archive, tmp_path)

    assert receipt.archive_kind == KINDS[kind] == detect_container(archive)
    (extracted,) = receipt.files
    name = source.name
    single = kind in ("gz", "bz2", "xz", "zst")
    rel = name if single else f"ontology/{name}"
    assert extracted.path == tmp_path / "out" / rel
    assert _files(tmp_path / "out") == [rel]  # nothing else: no nested archive, no scratch
    assert extracted.path.read_bytes() == original
    assert extracted.sha256 == _sha(original) == _sha(extracted.path.read_bytes())
    assert extracted.size == len(original) == receipt.expanded_bytes
    assert extracted.chain == CHAINS[kind]
    expected_member = {
        True: f"{archive.name}!{name}",
        False: f"{archive.name}!ontology/{name}",
    }[single]
    if kind == "nested.zip":
        expected_member = f"{archive.name}!ontology/{name}.gz!{name}"
    assert extracted.member == expected_member
    assert receipt.entries == (1 if single else 2)  # the folder counts in zip and tar
    assert list((tmp_path / "staging").iterdir()) == []
    as_json = json.loads(json.dumps(receipt.to_dict()))
    assert as_json["files"][0] == {
        "path": str(extracted.path),
        "member": extracted.member,
        "size": len(original),
        "sha256": _sha(original),
        "chain": list(CHAINS[kind]),
    }


def test_a_store_blob_is_named_by_the_name_argument(
    archives: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    blob = tmp_path / "3f2a9c"  # store blobs have no extension
    shutil.copyfile(archives["hp"]["gz"], blob)
    receipt = _extract(blob, tmp_path, name="hp.obo.gz")
    assert receipt.files[0].path == tmp_path / "out" / "hp.obo"
    assert receipt.files[0].member == "hp.obo.gz!hp.obo"
    shutil.rmtree(tmp_path / "out")
    unnamed = _extract(blob, tmp_path, name=None)
    assert unnamed.files[0].path == tmp_path / "out" / "3f2a9c"  # nothing to strip


def test_a_plain_file_passes_through_without_a_copy(tmp_path: Path) -> None:
    source = hpo_obo_path()
    receipt = _extract(source, tmp_path, name="hp.obo")
    assert receipt.archive_kind is None
    assert detect_container(source) is None
    (file,) = receipt.files
    assert file.path == source
    assert (file.member, file.chain, file.size) == ("hp.obo", (), source.stat().st_size)
    assert file.sha256 == _sha(source.read_bytes())
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "staging").exists()


def test_rdf_at_twenty_to_one_passes_the_default_ratio(tmp_path: Path) -> None:
    owl = write_synthetic_owl(tmp_path / "big.owl", target_bytes=4_000_000)
    packed = tmp_path / "big.owl.xz"
    packed.write_bytes(lzma.compress(owl.read_bytes(), preset=6))
    ratio = owl.stat().st_size / packed.stat().st_size
    assert 15 < ratio < 40  # what real RDF/XML reaches with xz
    receipt = _extract(packed, tmp_path)
    assert receipt.files[0].sha256 == _sha(owl.read_bytes())
    assert receipt.expanded_bytes > 1 << 20  # well past the floor where the ratio is judged


def test_an_existing_destination_is_left_untouched(
    archives: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n")
    with pytest.raises(FileExistsError):
        _extract(archives["kisao"]["zip"], tmp_path)
    assert _files(dest) == ["keep.txt"]
    assert (dest / "keep.txt").read_text() == "mine\n"
    assert not (tmp_path / "staging").exists() or not list((tmp_path / "staging").iterdir())


def test_an_empty_destination_directory_also_counts_as_existing(
    archives: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        _extract(archives["kisao"]["tar.gz"], tmp_path)
    assert list((tmp_path / "out").iterdir()) == []


# --- streams publishers produce ----------------------------------------------------------

PART_A = kisao_owl_path().read_bytes()[:300_000]
PART_B = kisao_owl_path().read_bytes()[300_000:]


def _skippable(payload: bytes) -> bytes:
    return b"\x50\x2a\x4d\x18" + len(payload).to_bytes(4, "little") + payload


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        ("gz", gzip.compress(PART_A, mtime=0) + gzip.compress(PART_B, mtime=0)),
        ("bz2", bz2.compress(PART_A) + bz2.compress(PART_B)),  # pbzip2 writes streams
        ("xz", lzma.compress(PART_A) + b"\0" * 8 + lzma.compress(PART_B)),  # padded
        (
            "zst",
            zstandard.ZstdCompressor(write_checksum=True).compress(PART_A)
            + _skippable(b"metadata")
            + zstandard.ZstdCompressor(write_content_size=False).compress(PART_B),
        ),
    ],
)
def test_concatenated_streams_are_read_to_the_end(tmp_path: Path, suffix: str, data: bytes) -> None:
    source = tmp_path / f"kisao.owl.{suffix}"
    source.write_bytes(data)
    receipt = _extract(source, tmp_path)
    assert receipt.files[0].path.read_bytes() == PART_A + PART_B


def _tar_gz(members: list[tuple[str, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_tar_written_with_dot_prefixes_unpacks_cleanly(tmp_path: Path) -> None:
    source = tmp_path / "release.tgz"
    source.write_bytes(
        _tar_gz([(".", None), ("./ontology", None), ("./ontology/kisao.owl", PART_A)])
    )
    receipt = _extract(source, tmp_path)
    assert receipt.archive_kind == "tar+gzip"
    assert [f.member for f in receipt.files] == ["release.tgz!ontology/kisao.owl"]
    assert _files(tmp_path / "out") == ["ontology/kisao.owl"]


def test_archives_nest_into_directories_named_after_them(tmp_path: Path) -> None:
    inner = _tar_gz([("ontology/kisao.owl", PART_A)])
    source = tmp_path / "bundle.zip"
    with zipfile.ZipFile(source, "w") as bundle:
        bundle.writestr("data/release.tar.gz", inner)
        bundle.writestr("README.txt", b"read me\n")
    receipt = _extract(source, tmp_path)
    by_member = {f.member: f for f in receipt.files}
    nested = by_member["bundle.zip!data/release.tar.gz!ontology/kisao.owl"]
    assert nested.chain == ("zip", "tar+gzip")
    assert nested.path == tmp_path / "out" / "data" / "release" / "ontology" / "kisao.owl"
    assert by_member["bundle.zip!README.txt"].chain == ("zip",)
    assert _files(tmp_path / "out") == ["README.txt", "data/release/ontology/kisao.owl"]


def test_a_compressed_zip_unpacks_into_the_root(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("ontology/kisao.owl", PART_A)
    source = tmp_path / "bundle.zip.gz"
    source.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    receipt = _extract(source, tmp_path)
    assert receipt.archive_kind == "gzip"
    assert receipt.files[0].chain == ("gzip", "zip")
    assert receipt.files[0].member == "bundle.zip.gz!bundle.zip!ontology/kisao.owl"
    assert _files(tmp_path / "out") == ["ontology/kisao.owl"]


def test_a_file_and_its_compressed_twin_collide(tmp_path: Path) -> None:
    source = tmp_path / "twins.zip"
    with zipfile.ZipFile(source, "w") as bundle:
        bundle.writestr("kisao.owl", PART_A)
        bundle.writestr("kisao.owl.gz", gzip.compress(PART_A, mtime=0))
    with pytest.raises(ExtractError) as info:
        _extract(source, tmp_path)
    assert info.value.code == "E_ARCHIVE_CASE_COLLISION"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["trailer", "garbage"])
def test_damage_after_the_tar_end_marker_is_noticed(tmp_path: Path, damage: str) -> None:
    data = bytearray(_tar_gz([("ontology/kisao.owl", PART_A)]))
    if damage == "trailer":
        data[-8] ^= 0xFF  # the gzip CRC, read only after the whole tar
    else:
        data += b"not gzip at all"
    source = tmp_path / "damaged.tar.gz"
    source.write_bytes(bytes(data))
    with pytest.raises(ExtractError) as info:
        _extract(source, tmp_path)
    assert info.value.code == "E_ARCHIVE_CORRUPT"
    assert "damaged.tar.gz" in info.value.message
    assert not (tmp_path / "out").exists()
    assert list((tmp_path / "staging").iterdir()) == []


def test_allowed_links_inside_the_archive_are_created(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("ontology/kisao.owl")
        info.size = len(PART_A)
        tar.addfile(info, io.BytesIO(PART_A))
        for kind, name, target in (
            (tarfile.SYMTYPE, "ontology/latest.owl", "kisao.owl"),
            (tarfile.LNKTYPE, "kisao-copy.owl", "ontology/kisao.owl"),
        ):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = kind, target
            tar.addfile(link)
    source = tmp_path / "links.tar"
    source.write_bytes(buffer.getvalue())
    policy = ArchivePolicy(allow_symlinks=True, allow_hardlinks=True)
    receipt = _extract(source, tmp_path, policy=policy)
    out = tmp_path / "out"
    assert (out / "ontology" / "latest.owl").is_symlink()
    assert (out / "ontology" / "latest.owl").read_bytes() == PART_A
    assert (out / "kisao-copy.owl").stat().st_ino == (out / "ontology" / "kisao.owl").stat().st_ino
    assert [f.member for f in receipt.files] == [
        "links.tar!ontology/kisao.owl",
        "links.tar!kisao-copy.owl",
    ]
    assert receipt.files[0].sha256 == receipt.files[1].sha256 == _sha(PART_A)
