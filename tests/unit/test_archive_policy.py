"""The archive policy's pure checks: member names, entry types, link targets, the meter."""

from __future__ import annotations

import pytest

from ontolab.errors import UnsafeArchive
from ontolab.policy import (
    RATIO_FLOOR_BYTES,
    ArchivePolicy,
    EntryKind,
    casefold_key,
    check_member_name,
    printable,
)
from ontolab.settings import ExtractSettings

MiB = 1 << 20


def _code(name: str, seen: set[str] | None = None) -> str:
    with pytest.raises(UnsafeArchive) as info:
        check_member_name(name, seen_casefold=set() if seen is None else seen)
    return info.value.code


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("hp.obo", "hp.obo"),
        ("ontology/hp.obo", "ontology/hp.obo"),
        ("./ontology//hp.obo", "ontology/hp.obo"),
        ("ontology\\hp.obo", "ontology/hp.obo"),
        ("ontology/", "ontology"),
        ("a/../b.owl", "b.owl"),  # resolves inside the root: harmless
        ("a/./b/../c.owl", "a/c.owl"),
        ("GO:0000001.owl", "GO:0000001.owl"),  # a colon that is no drive letter
        ("Straße/ä.owl", "Straße/ä.owl"),
        ("..owl", "..owl"),  # dots inside a segment are not '..'
        ("a..b/...", "a..b/..."),
    ],
)
def test_benign_names_are_normalised(name: str, normalised: str) -> None:
    assert check_member_name(name, seen_casefold=set()) == normalised


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../evil.txt",
        "../../evil.txt",
        "a/../../b",
        "a/b/../../../c",
        "./../x",
        "..\\x",
        "..\\..\\evil.txt",
        "a\\..\\..\\b",
        "a/..\\..",
        "ontology/..\\../x",
    ],
)
def test_traversal_is_refused(name: str) -> None:
    assert _code(name) == "E_ARCHIVE_TRAVERSAL"


@pytest.mark.parametrize(
    "name",
    [
        "/etc/evil",
        "/",
        "//x",
        "///etc/passwd",
        "\\etc\\evil",
        "\\\\server\\share\\evil",
        "//server/share/evil",
        "\\\\?\\C:\\evil",
        "C:\\evil",
        "C:/evil",
        "C:x",
        "c:evil",
        "z:",
    ],
)
def test_absolute_paths_drives_and_unc_shares_are_refused(name: str) -> None:
    assert _code(name) == "E_ARCHIVE_ABSOLUTE_PATH"


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "./",
        "a/..",
        "evil\x00.owl",
        "evil.owl\x00",
        "a\nb.owl",
        "a\rb.owl",
        "a\tb.owl",
        "evil\x1b[2J.owl",
        "del\x7f.owl",
        "c1\x85.owl",
        "spoof\u202egpj.owl",  # right-to-left override
        "line\u2028break.owl",
        "bad\udcffbyte.owl",  # an undecodable byte, as tarfile's surrogateescape spells it
        "x" * 256,
        "dir/" + "y" * 300 + "/z.owl",
    ],
)
def test_empty_names_control_characters_and_overlong_segments_are_refused(name: str) -> None:
    assert _code(name) == "E_ARCHIVE_BAD_NAME"


def test_refusals_name_the_member_printably() -> None:
    with pytest.raises(UnsafeArchive) as info:
        check_member_name("evil\x1b[2J.owl", seen_casefold=set())
    assert "\x1b" not in str(info.value)
    assert "\\x1b" in str(info.value)
    assert info.value.reason == "unsafe_archive"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("A.owl", "a.owl"),
        ("hp.obo", "HP.OBO"),
        ("Straße.owl", "STRASSE.owl"),
        ("straße.owl", "strasse.owl"),
        ("caf\u00e9.owl", "cafe\u0301.owl"),  # composed and decomposed é
        ("Ωmega.owl", "ωMEGA.owl"),
        ("dir/File.owl", "DIR/file.owl"),
        ("x.owl", "./x.owl"),  # an exact duplicate, spelled differently
        ("a/b.owl", "a\\b.owl"),
    ],
)
def test_names_equal_under_casefold_collide(first: str, second: str) -> None:
    seen: set[str] = set()
    check_member_name(first, seen_casefold=seen)
    assert _code(second, seen) == "E_ARCHIVE_CASE_COLLISION"


def test_distinct_names_do_not_collide_and_are_recorded() -> None:
    seen: set[str] = set()
    for name in ("a.owl", "b.owl", "a/a.owl", "A/b.owl", "ss.owl", "s.owl"):
        check_member_name(name, seen_casefold=seen)
    assert len(seen) == 6
    assert casefold_key("A/B.owl") in seen


def test_casefold_key_and_printable() -> None:
    assert casefold_key("STRASSE") == casefold_key("Straße")
    assert casefold_key("a.owl") != casefold_key("b.owl")
    assert printable("hp.obo") == "hp.obo"
    assert printable("a\x00b\u202e") == "a\\x00b\\u202e"


# --- entry types and links ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [EntryKind.CHAR_DEVICE, EntryKind.BLOCK_DEVICE, EntryKind.FIFO, EntryKind.SOCKET],
)
def test_devices_fifos_and_sockets_are_always_refused(kind: EntryKind) -> None:
    lenient = ArchivePolicy(allow_symlinks=True, allow_hardlinks=True)
    with pytest.raises(UnsafeArchive) as info:
        lenient.check_entry_type(kind, "x.tar!dev")
    assert info.value.code == "E_ARCHIVE_DEVICE"


@pytest.mark.parametrize(
    ("kind", "code"),
    [(EntryKind.SYMLINK, "E_ARCHIVE_SYMLINK"), (EntryKind.HARDLINK, "E_ARCHIVE_HARDLINK")],
)
def test_links_are_refused_unless_allowed(kind: EntryKind, code: str) -> None:
    with pytest.raises(UnsafeArchive) as info:
        ArchivePolicy().check_entry_type(kind, "x.tar!link")
    assert info.value.code == code
    ArchivePolicy(allow_symlinks=True, allow_hardlinks=True).check_entry_type(kind, "x")


def test_files_and_directories_pass() -> None:
    for kind in (EntryKind.FILE, EntryKind.DIRECTORY):
        ArchivePolicy().check_entry_type(kind, "x")


LENIENT = ArchivePolicy(allow_symlinks=True, allow_hardlinks=True)


@pytest.mark.parametrize(
    ("kind", "path", "target", "resolved"),
    [
        (EntryKind.SYMLINK, "a/b/link", "c.owl", "a/b/c.owl"),
        (EntryKind.SYMLINK, "a/b/link", "../c.owl", "a/c.owl"),
        (EntryKind.SYMLINK, "a/b/link", "../../c.owl", "c.owl"),
        (EntryKind.SYMLINK, "link", ".", ""),
        (EntryKind.HARDLINK, "a/b/hard", "a/c.owl", "a/c.owl"),  # tar: relative to the root
        (EntryKind.HARDLINK, "hard", "./x.owl", "x.owl"),
    ],
)
def test_link_targets_inside_resolve(
    kind: EntryKind, path: str, target: str, resolved: str
) -> None:
    assert LENIENT.check_link(kind, "m", path=path, target=target) == resolved


@pytest.mark.parametrize(
    ("kind", "path", "target", "code"),
    [
        (EntryKind.SYMLINK, "link", "/etc/passwd", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "link", "C:\\Windows", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "link", "\\\\server\\share", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "link", "../x", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "a/b/link", "../../../x", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "a/link", "..\\..\\x", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.HARDLINK, "hard", "/etc/passwd", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.HARDLINK, "a/b/hard", "../x", "E_ARCHIVE_TRAVERSAL"),
        (EntryKind.SYMLINK, "link", "", "E_ARCHIVE_BAD_NAME"),
        (EntryKind.SYMLINK, "link", "x\x00y", "E_ARCHIVE_BAD_NAME"),
    ],
)
def test_link_targets_outside_are_refused_even_when_links_are_allowed(
    kind: EntryKind, path: str, target: str, code: str
) -> None:
    with pytest.raises(UnsafeArchive) as info:
        LENIENT.check_link(kind, "m", path=path, target=target)
    assert info.value.code == code


def test_a_link_is_refused_for_its_type_before_its_target_is_looked_at() -> None:
    with pytest.raises(UnsafeArchive) as info:
        ArchivePolicy().check_link(EntryKind.SYMLINK, "m", path="l", target="/etc/passwd")
    assert info.value.code == "E_ARCHIVE_SYMLINK"


# --- the meter ---------------------------------------------------------------------------


def test_from_settings_copies_every_limit() -> None:
    settings = ExtractSettings(
        max_entries=5,
        max_total_bytes="2GB",
        max_entry_bytes="1GB",
        max_ratio=50,
        max_depth=2,
        allow_symlinks=True,
    )
    assert ArchivePolicy.from_settings(settings) == ArchivePolicy(
        max_entries=5,
        max_total_bytes=2_000_000_000,
        max_entry_bytes=1_000_000_000,
        max_ratio=50.0,
        max_depth=2,
        allow_symlinks=True,
        allow_hardlinks=False,
    )
    assert ArchivePolicy.from_settings(ExtractSettings()) == ArchivePolicy()


def test_ratio_is_not_judged_below_one_mib() -> None:
    stream = ArchivePolicy().meter().stream("tiny.gz")
    stream.consumed(1)
    stream.produced(RATIO_FLOOR_BYTES - 1)  # 1 MiB - 1 from one byte: odd, but small
    with pytest.raises(UnsafeArchive) as info:
        stream.produced(1)
    assert info.value.code == "E_ARCHIVE_RATIO"


def test_ratio_threshold_is_strictly_greater_than_max_ratio() -> None:
    policy = ArchivePolicy(max_ratio=200)
    at_limit = policy.meter().stream("x.gz")
    at_limit.consumed(MiB // 200 + 1)
    at_limit.produced(200 * (MiB // 200 + 1))  # exactly 200:1, past the floor
    over = policy.meter().stream("x.gz")
    over.consumed(MiB // 200)
    with pytest.raises(UnsafeArchive) as info:
        over.produced(MiB)
    assert info.value.code == "E_ARCHIVE_RATIO"
    assert "x.gz" in info.value.message


def test_real_rdf_ratios_pass_for_many_mib() -> None:
    stream = ArchivePolicy().meter().stream("go.owl.gz")
    for _ in range(1000):  # 1000 MiB at 20:1
        stream.consumed(MiB // 20)
        stream.produced(MiB)
    assert (stream.bytes_in, stream.bytes_out) == (1000 * (MiB // 20), 1000 * MiB)


def test_entry_and_total_sizes_are_enforced_before_the_bytes_are_counted() -> None:
    meter = ArchivePolicy(max_entry_bytes=100, max_total_bytes=150).meter()
    first = meter.entry("a")
    first.add(100)  # exactly the limit
    with pytest.raises(UnsafeArchive) as info:
        first.add(1)
    assert info.value.code == "E_ARCHIVE_ENTRY_TOO_LARGE"
    assert first.size == 100
    second = meter.entry("b")
    second.add(50)
    with pytest.raises(UnsafeArchive) as info:
        second.add(1)
    assert info.value.code == "E_ARCHIVE_TOO_LARGE"
    assert meter.total_bytes == 150


def test_entry_count_depth_and_declared_counts() -> None:
    meter = ArchivePolicy(max_entries=3, max_depth=2).meter()
    for name in "abc":
        meter.begin_entry(name)
    with pytest.raises(UnsafeArchive) as info:
        meter.begin_entry("d")
    assert info.value.code == "E_ARCHIVE_TOO_MANY_ENTRIES"
    with pytest.raises(UnsafeArchive) as info:
        ArchivePolicy(max_entries=10).meter().expect_entries(11, "big.zip")
    assert info.value.code == "E_ARCHIVE_TOO_MANY_ENTRIES"
    meter.enter(2, "x.zip!y.zip")
    with pytest.raises(UnsafeArchive) as info:
        meter.enter(3, "x.zip!y.zip!z.gz")
    assert info.value.code == "E_ARCHIVE_TOO_DEEP"


@pytest.mark.parametrize(
    ("limit", "size", "compressed", "code"),
    [
        (50, 51, None, "E_ARCHIVE_ENTRY_TOO_LARGE"),
        (50, 50, None, None),
        (10 * MiB, 2 * MiB, 1000, "E_ARCHIVE_RATIO"),
        (10 * MiB, MiB - 1, 1, None),  # below the floor: not judged
        (10 * MiB, 2 * MiB, 2 * MiB // 200 + 1, None),  # just under 200:1
    ],
)
def test_declared_sizes_can_only_refuse_early(
    limit: int, size: int, compressed: int | None, code: str | None
) -> None:
    meter = ArchivePolicy(max_entry_bytes=limit).meter()
    if code is None:
        meter.begin_entry("m", declared_size=size, declared_in=compressed)
        assert meter.entries == 1
        return
    with pytest.raises(UnsafeArchive) as info:
        meter.begin_entry("m", declared_size=size, declared_in=compressed)
    assert info.value.code == code


def test_declared_total_refuses_early() -> None:
    meter = ArchivePolicy(max_total_bytes=100).meter()
    meter.entry("a").add(60)
    with pytest.raises(UnsafeArchive) as info:
        meter.begin_entry("b", declared_size=41)
    assert info.value.code == "E_ARCHIVE_TOO_LARGE"


def test_overall_ratio_catches_layers_that_each_look_modest() -> None:
    meter = ArchivePolicy(max_ratio=200).meter(source_bytes=1000)
    meter.add_written(199_000, "a")  # far past 200:1 overall, but under the 1 MiB floor
    with pytest.raises(UnsafeArchive) as info:
        meter.add_written(MiB, "layer.zip!b")
    assert info.value.code == "E_ARCHIVE_RATIO"
    assert meter.total_bytes == 199_000
