"""Nothing outside the cooperation is read: every path cooperation.yml names resolves inside
the folder of cooperation.yml or an `allowed_folders` entry, and a symbolic link (or a pipe,
a device) is refused unread, so no message can quote what it points to.

Each case runs the real thing: load_config, or the ingestion asset's own function on a
DuckDB warehouse in tmp_path."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.profiles import ProfileError, load_profile
from pipelines.settings import PROFILES_DIR, ConfigError, load_config
from pipelines.warehouse import connect
from tests.conftest import CANONICAL_HEADER, write

NOT_FOLLOWED = (
    "links are not followed (follow_symlinks: true in cooperation.yml reads links to files "
    "inside the cooperation's folders)"
)
LINK = f"is a symbolic link; {NOT_FOLLOWED}"
LOG = logging.getLogger("test_paths")

CONFIG = """
cooperation: {{name: Test, country: NO, currency: NOK, host: "5037"}}
agreements: [{{path: agreements.csv, profile: canonical}}]
{extra}
municipalities:
  - id: "5037"
    name: Levanger
    spend:
      - {{path: {spend}, profile: {profile}}}
"""
AGREEMENTS = (
    "agreement_id,agreement_name,scope,category_ids,supplier_org_nos,participants,"
    "valid_from,valid_to,provision_rate\n"
)


def line(invoice: str, amount: str = "100.00") -> str:
    return f"5037,{invoice},1,2024-03-05,923609016,Data AS,11500,115,{amount},NOK,,,,,\n"


def spend_file(path: Path, *invoices: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CANONICAL_HEADER + "\n" + "".join(line(i) for i in invoices), "utf-8")
    return path


def cooperation(
    folder: Path, spend: str = "spend/*.csv", extra: str = "", profile: str = "canonical"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreements.csv").write_text(AGREEMENTS, encoding="utf-8")
    config = folder / "cooperation.yml"
    config.write_text(CONFIG.format(spend=spend, extra=extra, profile=profile), "utf-8")
    return config


def config_error(config: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return str(caught.value)


def everything_written(config: Path) -> str:
    """Every value of every raw table and the deliveries' messages, as one text."""
    with connect(load_config(config).warehouse, read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
            ).fetchall()
        ]
        return " ".join(
            str(value)
            for table in tables
            for row in con.execute(f"SELECT * FROM raw.{table}").fetchall()
            for value in row
        )


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    """Two cooperations side by side: A (the one run) and B, whose file must never reach A."""
    a = cooperation(tmp_path / "a")
    spend_file(a.parent / "spend" / "2024-01.csv", "A1")
    b = cooperation(tmp_path / "b")
    spend_file(b.parent / "spend" / "2024-01.csv", "B-SECRET-1", "B-SECRET-2")
    return a, b


# --- symbolic links in a member's folder ---------------------------------------------------


def test_a_link_to_another_cooperations_file_is_rejected_unread(two):
    a, b = two
    (a.parent / "spend" / "2024-02.csv").symlink_to(b.parent / "spend" / "2024-01.csv")
    results = load_member_deliveries(load_config(a), "5037", LOG)
    assert sorted((Path(r.source_file).name, r.status, r.message) for r in results) == [
        ("2024-01.csv", "loaded", "1 rows loaded"),
        ("2024-02.csv", "rejected", f"spend/2024-02.csv {LINK}"),
    ]
    assert "B-SECRET" not in everything_written(a)


def test_a_link_to_etc_passwd_is_rejected_without_quoting_it(two):
    a, _ = two
    (a.parent / "spend" / "passwd.csv").symlink_to("/etc/passwd")
    results = load_member_deliveries(load_config(a), "5037", LOG)
    (rejected,) = [r for r in results if r.status == "rejected"]
    assert rejected.message == f"spend/passwd.csv {LINK}"
    first_line = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    written = everything_written(a)
    assert first_line not in written and "root:" not in written
    again = load_member_deliveries(load_config(a), "5037", LOG)  # recorded once, not twice
    assert [r.status for r in again if r.status == "rejected"] == ["rejected"]
    with connect(load_config(a).warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.deliveries").fetchone()[0] == 2


def test_a_linked_folder_is_named(two):
    a, b = two
    (a.parent / "spend" / "b").symlink_to(b.parent / "spend")
    config = cooperation(a.parent, spend="spend/*/*.csv")
    spend_file(a.parent / "spend" / "own" / "2024-03.csv", "A3")
    results = load_member_deliveries(load_config(config), "5037", LOG)
    assert sorted((r.status, r.message) for r in results) == [
        ("loaded", "1 rows loaded"),
        (
            "rejected",
            f"spend/b/2024-01.csv is reached through the symbolic link spend/b; {NOT_FOLLOWED}",
        ),
    ]
    assert "B-SECRET" not in everything_written(config)


def test_a_pipe_is_rejected_without_waiting_for_it(two):
    a, _ = two
    os.mkfifo(a.parent / "spend" / "pipe.csv")  # opening it would block the run for ever
    results = load_member_deliveries(load_config(a), "5037", LOG)
    assert sorted((r.status, r.message) for r in results) == [
        ("loaded", "1 rows loaded"),
        (
            "rejected",
            "spend/pipe.csv is not a regular file or folder (a device, pipe or socket); not read",
        ),
    ]


def test_an_e_invoice_folder_holding_a_link_is_rejected_whole(tmp_path: Path):
    config = cooperation(tmp_path / "a", spend="ehf/*", profile="ehf")
    folder = tmp_path / "a" / "ehf" / "2024-03"
    folder.mkdir(parents=True)
    (folder / "a.xml").write_text("<Invoice/>", encoding="utf-8")
    (folder / "b.xml").symlink_to("/etc/passwd")
    (result,) = load_member_deliveries(load_config(config), "5037", LOG)
    assert (result.status, result.message) == (
        "rejected",
        f"ehf/2024-03 holds b.xml, which {LINK}",
    )


def test_the_host_s_own_files_and_profiles_may_not_be_links(two):
    a, b = two
    folder = a.parent
    (folder / "agreements.csv").unlink()
    (folder / "agreements.csv").symlink_to(b.parent / "agreements.csv")
    assert config_error(a) == (f"{a}: agreements[0].path: {folder / 'agreements.csv'} {LINK}")
    (folder / "agreements.csv").unlink()
    (folder / "agreements.csv").write_text(AGREEMENTS, encoding="utf-8")
    (folder / "taxonomy.csv").symlink_to("/etc/passwd")
    write(
        a,
        CONFIG.format(
            spend="spend/*.csv", extra="reference: {taxonomy: taxonomy.csv}", profile="canonical"
        ),
    )
    message = config_error(a)
    assert message == f"{a}: reference.taxonomy: {folder / 'taxonomy.csv'} {LINK}"
    assert "root:" not in message


# --- paths outside the cooperation's folder ------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "extra", "key", "shown"),
    [
        ("../b/spend/2024-01.csv", "", "municipalities[0].spend[0].path", "b/spend/2024-01.csv"),
        ("../b/spend/*.csv", "", "municipalities[0].spend[0].path", "b/spend/*.csv"),
        ("spend/../../b/spend/*.csv", "", "municipalities[0].spend[0].path", "b/spend/*.csv"),
        ("spend/*.csv", "reference: {taxonomy: ../b/t.csv}", "reference.taxonomy", "b/t.csv"),
        (
            "spend/*.csv",
            "price_lists: [{path: ../b/agreements.csv}]",
            "price_lists[0].path",
            "b/agreements.csv",
        ),
    ],
)
def test_a_path_outside_the_folder_is_a_config_error(two, spend, extra, key, shown):
    a, b = two
    (b.parent / "t.csv").write_text("category_id,category_name,parent_id\n", encoding="utf-8")
    write(a, CONFIG.format(spend=spend, extra=extra, profile="canonical"))
    root = a.parent.parent
    assert config_error(a) == (
        f"{a}: {key}: {root / shown} is outside the cooperation's folder {a.parent} and its "
        "allowed_folders (list a folder under allowed_folders in cooperation.yml to read "
        "from it)"
    )


def test_a_profile_outside_the_folder_and_a_mapping_file_outside(two):
    a, b = two
    profile = write(
        b.parent / "erp.yaml",
        """
        profile: erp
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Beløp}
          account: {column: Konto}
        art: {account_mapping: ../b/chart.csv}
    """,
    )
    write(a, CONFIG.format(spend="spend/*.csv", extra="", profile="../b/erp.yaml"))
    assert config_error(a) == (
        f"{a}: municipalities[0].spend[0].profile: {profile} is outside the cooperation's "
        f"folder {a.parent} and its allowed_folders (list a folder under allowed_folders in "
        "cooperation.yml to read from it)"
    )
    # the profile inside, its mapping file outside
    (a.parent / "erp.yaml").write_text(profile.read_text(encoding="utf-8"), "utf-8")
    (b.parent / "chart.csv").write_text("account,art\n4000,120\n", encoding="utf-8")
    write(a, CONFIG.format(spend="spend/*.csv", extra="", profile="erp.yaml"))
    cooperation_a = load_config(a)
    with pytest.raises(ProfileError) as caught:
        load_profile("erp.yaml", cooperation_a.root, cooperation_a.folders)
    assert str(caught.value) == (
        f"{a.parent / 'erp.yaml'}: art.account_mapping: {b.parent / 'chart.csv'} is outside "
        f"the cooperation's folder {a.parent} and its allowed_folders (list a folder under "
        "allowed_folders in cooperation.yml to read from it)"
    )


def test_the_shipped_profiles_and_their_mappings_stay_allowed(two):
    a, _ = two
    cooperation_a = load_config(a)
    for name in ("uk-calderdale", "uk-harrogate", "uk-wakefield"):
        assert load_profile(name, cooperation_a.root, cooperation_a.folders).art.account_mapping
    shipped = os.path.relpath(PROFILES_DIR / "uk-wakefield.yaml", a.parent)
    write(a, CONFIG.format(spend="spend/*.csv", extra="", profile=shipped))
    assert load_config(a).members[0].spend[0].profile == shipped


# --- allowed_folders and follow_symlinks ---------------------------------------------------


def test_allowed_folders_are_read_from(two):
    a, b = two
    extra = "allowed_folders: [../b/spend]"
    write(a, CONFIG.format(spend="../b/spend/*.csv", extra=extra, profile="canonical"))
    cooperation_a = load_config(a)
    assert cooperation_a.allowed_folders == (b.parent / "spend",)
    (result,) = load_member_deliveries(cooperation_a, "5037", LOG)
    assert (result.status, result.rows_loaded) == ("loaded", 2)
    # only that folder: b's other files stay out
    write(a, CONFIG.format(spend="../b/*.csv", extra=extra, profile="canonical"))
    assert "municipalities[0].spend[0].path" in config_error(a)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("../nowhere", "allowed_folders[0]: not a folder: {root}/nowhere"),
        ("../b/agreements.csv", "allowed_folders[0]: not a folder: {root}/b/agreements.csv"),
    ],
)
def test_allowed_folders_must_be_folders(two, value, message):
    a, _ = two
    write(
        a,
        CONFIG.format(
            spend="spend/*.csv", extra=f"allowed_folders: [{value}]", profile="canonical"
        ),
    )
    assert config_error(a) == f"{a}: " + message.format(root=a.parent.parent)
    write(a, CONFIG.format(spend="spend/*.csv", extra="allowed_folders: ../b", profile="canonical"))
    assert config_error(a) == (
        f"{a}: allowed_folders: expected a list of folders, e.g. [../shared/data]"
    )
    write(
        a,
        CONFIG.format(
            spend="spend/*.csv", extra="follow_symlinks: yes please", profile="canonical"
        ),
    )
    assert config_error(a) == f"{a}: follow_symlinks: 'yes please' must be true or false"


def test_follow_symlinks_reads_links_inside_the_allowed_folders_only(two, tmp_path: Path):
    a, b = two
    shared = spend_file(tmp_path / "shared" / "2024-05.csv", "S1")
    inside = spend_file(a.parent / "archive" / "2024-04.csv", "A4")
    spend = a.parent / "spend"
    (spend / "2024-04.csv").symlink_to(inside)
    (spend / "2024-05.csv").symlink_to(shared)
    (spend / "2024-06.csv").symlink_to(b.parent / "spend" / "2024-01.csv")
    extra = "allowed_folders: [../shared]\nfollow_symlinks: true"
    write(a, CONFIG.format(spend="spend/*.csv", extra=extra, profile="canonical"))
    results = load_member_deliveries(load_config(a), "5037", LOG)
    assert sorted((Path(r.source_file).name, r.status, r.message) for r in results) == [
        ("2024-01.csv", "loaded", "1 rows loaded"),
        ("2024-04.csv", "loaded", "1 rows loaded"),
        ("2024-05.csv", "loaded", "1 rows loaded"),
        (
            "2024-06.csv",
            "rejected",
            "spend/2024-06.csv is a symbolic link to a place outside the cooperation's folder "
            "and its allowed_folders; not read",
        ),
    ]
    assert "B-SECRET" not in everything_written(a)


def test_an_allowed_folder_may_be_named_through_the_operator_s_link(two, tmp_path: Path):
    """A mount reached through a link (/srv/shared -> /mnt/nas/shared): the link is the
    configuration's own choice, so it is followed; links below it are not."""
    a, _ = two
    spend_file(tmp_path / "nas" / "shared" / "2024-07.csv", "N1")
    (tmp_path / "mount").symlink_to(tmp_path / "nas" / "shared")
    (tmp_path / "nas" / "shared" / "2024-08.csv").symlink_to(a.parent / "spend" / "2024-01.csv")
    extra = "allowed_folders: [../mount]"
    write(a, CONFIG.format(spend="../mount/*.csv", extra=extra, profile="canonical"))
    results = load_member_deliveries(load_config(a), "5037", LOG)
    assert sorted((Path(r.source_file).name, r.status, r.message) for r in results) == [
        ("2024-07.csv", "loaded", "1 rows loaded"),
        ("2024-08.csv", "rejected", f"2024-08.csv {LINK}"),
    ]
