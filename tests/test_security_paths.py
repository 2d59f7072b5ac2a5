"""Security of server paths and messages: data roots, sanitised excerpts, upload clean-up.

A path typed on the Data page is read only inside the configured data roots; a refusal names
the path and the roots and never says whether the outside file exists; readers quote file
content only as short, sanitised excerpts; upload folders of ended sessions are swept.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import ConfigError, InputDataError
from genoapp.io import (
    coerce_binary,
    open_plink,
    read_gene_table,
    read_phenotypes,
    read_sample_table,
    write_plink,
)
from genoapp.io.grm import read_grm
from genoapp.io.pedigree import read_pedigree
from genoapp.io.roots import (
    ENV_VAR,
    data_roots,
    from_root_relative,
    named_data_roots,
    relative_to_root,
    resolve_data_path,
    resolve_grm_prefix,
    resolve_plink_prefix,
)
from genoapp.io.sanitize import clean_text, excerpt, parser_error_detail
from genoapp.ui import uploads

SECRET = "S3CRET-MARKER-7f3a9c"
SHADOW_LINE = f"root:$6$saltsalt${SECRET}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:19700:0:99999:7:::"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """A data root 'study' (tmp/root) and an outside folder holding a secret file."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.tsv").write_text(f"FID\tIID\t{SECRET}\nA\tB\t{SECRET}\n")
    monkeypatch.setenv(ENV_VAR, f"study={root}")
    return SimpleNamespace(root=root.resolve(), outside=outside.resolve(),
                           secret=(outside / "secret.tsv").resolve())


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(InputDataError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- roots


def test_configured_roots(roots, monkeypatch, repo_root):
    named = {r.name: r.path for r in named_data_roots()}
    assert named["study"] == roots.root
    assert named["assets"] == (repo_root / "assets").resolve()
    assert named["data"] == (Path.home() / "genoapp_data").resolve()
    assert data_roots()[:2] == [named["data"], named["assets"]]
    # unnamed entries are named after their folder; duplicates of a folder are dropped
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(roots.root), str(roots.root), ""]))
    assert [r.name for r in named_data_roots()] == ["data", "assets", "root"]
    monkeypatch.setenv(ENV_VAR, "relative/folder")
    with pytest.raises(ConfigError, match=ENV_VAR):
        named_data_roots()
    monkeypatch.setenv(ENV_VAR, f"assets={roots.root}")
    with pytest.raises(ConfigError, match="used twice"):
        named_data_roots()


def test_outside_path_is_refused_without_revealing_content_or_existence(roots):
    msg = _message(resolve_data_path, str(roots.secret), what="phenotype table")
    assert SECRET not in msg
    assert str(roots.secret) in msg  # the path as given
    assert str(roots.root) in msg and "study" in msg and ENV_VAR in msg  # roots, how to add one
    missing = roots.outside / "does-not-exist.tsv"
    msg_missing = _message(resolve_data_path, str(missing), what="phenotype table")
    assert msg.replace(str(roots.secret), "P") == msg_missing.replace(str(missing), "P")
    # the same through the PLINK and GRM variants, and with must_exist
    for fn in (resolve_plink_prefix, resolve_grm_prefix):
        assert SECRET not in _message(fn, str(roots.outside / "secret"))
    assert SECRET not in _message(resolve_data_path, roots.secret, must_exist=True)
    # '..' out of a root
    escape = f"{roots.root}/../outside/secret.tsv"
    assert "not inside" in _message(resolve_data_path, escape)


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd", "/proc/self/environ",
                                  "~/../../etc/shadow", "/"])
def test_system_files_are_refused(roots, monkeypatch, path):
    monkeypatch.setenv("GENOAPP_TEST_SECRET", SECRET)  # would show up in /proc/self/environ
    msg = _message(resolve_data_path, path, what="phenotype table")
    assert "not inside a folder this server may read" in msg
    assert SECRET not in msg and "root:" not in msg
    assert SECRET not in _message(resolve_plink_prefix, path)


def test_symlinks_pointing_outside_are_refused(roots):
    link = roots.root / "pheno.tsv"
    link.symlink_to(roots.secret)
    msg = _message(resolve_data_path, str(link), what="phenotype table")
    assert SECRET not in msg and str(roots.secret) not in msg  # the target is not revealed
    (roots.root / "dir").symlink_to(roots.outside, target_is_directory=True)
    assert SECRET not in _message(resolve_data_path, str(roots.root / "dir" / "secret.tsv"))
    # a fileset whose .bim is a link to an outside file
    for suffix in (".bed", ".fam"):
        (roots.root / f"c{suffix}").write_text("x")
    (roots.root / "c.bim").symlink_to(roots.secret)
    for given in (roots.root / "c", roots.root / "c.bed", "study:c"):
        assert SECRET not in _message(resolve_plink_prefix, str(given))
    # root-relative paths cannot escape either
    assert SECRET not in _message(from_root_relative, "study:../outside/secret.tsv")
    assert SECRET not in _message(from_root_relative, "study:pheno.tsv")


def test_inside_paths_and_root_relative_round_trip(roots):
    (roots.root / "sub").mkdir()
    table = roots.root / "sub" / "pheno.tsv"
    table.write_text("FID\tIID\ty\nA\tB\t1\n")
    inner = roots.root / "sub" / "link.tsv"
    inner.symlink_to(table)  # a link inside the root is fine
    assert resolve_data_path(str(inner)) == table
    assert resolve_data_path("study:sub/pheno.tsv", must_exist=True) == table
    assert relative_to_root(table) == "study:sub/pheno.tsv"
    assert from_root_relative("study:sub/pheno.tsv") == table
    assert relative_to_root(roots.root) == "study:"
    # a PLINK prefix (not a file itself) resolves, and its record form is root-relative
    prefix = resolve_plink_prefix(str(roots.root / "sub" / "cohort.bed"))
    assert prefix == roots.root / "sub" / "cohort"
    assert relative_to_root(prefix) == "study:sub/cohort"
    # absolute paths pass through; unknown root names are a readable error
    assert from_root_relative("/abs/path.tsv") == Path("/abs/path.tsv")
    assert from_root_relative(Path("x.tsv")) == Path("x.tsv")
    with pytest.raises(InputDataError, match="not configured.*study"):
        from_root_relative("elsewhere:x.tsv")
    with pytest.raises(InputDataError, match="not inside"):
        relative_to_root(roots.secret)
    with pytest.raises(InputDataError, match="no path given"):
        resolve_data_path("  ")
    # explicit roots override the configuration
    assert resolve_data_path(str(roots.secret), roots=[roots.outside]) == roots.secret
    assert relative_to_root(roots.secret, roots={"vault": roots.outside}) == "vault:secret.tsv"


def test_demo_assets_are_allowed(repo_root):
    prefix = resolve_plink_prefix("assets:demo/human_1kg_hapmap3")
    assert prefix == (repo_root / "assets/demo/human_1kg_hapmap3").resolve()
    assert open_plink(prefix).n_samples == 1485


# ----------------------------------------------------------------------------- sanitised messages


def test_sanitiser():
    assert clean_text("a\tb\n\x1b[31mc\x00") == "a b [31mc"
    assert clean_text("x" * 50) == "x" * 20 + "..."
    assert clean_text("\u200bzero\u202ewidth") == "zerowidth"  # format characters removed
    assert excerpt(["a", "b"]) == "a, b"
    assert excerpt([f"c{i}" for i in range(12)]) == "c0, c1, c2, c3, c4 ... (12 in all)"
    assert excerpt([]) == ""
    err = pd.errors.ParserError("Error tokenizing data. C error: Expected 3 fields in line 7, saw 4")
    assert parser_error_detail(err) == "line 7 has 4 fields, expected 3"
    assert parser_error_detail(ValueError(SECRET)) == "the rows could not be split into columns"


def _bounded(msg: str) -> None:
    """The secret never appears beyond a 20-character excerpt."""
    assert SECRET not in msg
    assert SHADOW_LINE[:21] not in msg


def test_phenotype_file_with_a_secret_header(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.write_text(SHADOW_LINE + "\n" + "daemon:*:19700:0:99999:7:::\n")
    msg = _message(read_phenotypes, shadow)
    _bounded(msg)
    assert "no IID column" in msg
    many = tmp_path / "many.tsv"
    many.write_text("\t".join([f"col{i}_{SECRET}" for i in range(30)]) + "\nA\tB\n")
    msg = _message(read_phenotypes, many)
    assert SECRET not in msg and "(30 in all)" in msg and msg.count("_S3CRET-MARK") == 5
    escape = tmp_path / "escape.tsv"  # terminal escapes in duplicated column names
    escape.write_text("FID\tIID\t\x1b]0;pwned\x07y\t\x1b]0;pwned\x07y\nA\tB\t1\t2\n")
    msg = _message(read_sample_table, escape)
    assert "duplicated column names" in msg and "pwned" in msg
    assert "\x1b" not in msg and "\x07" not in msg
    one = tmp_path / "one.tsv"
    one.write_text(f"FID\tIID\t{SHADOW_LINE}\n")
    _bounded(_message(read_phenotypes, one))


def test_reader_messages_bound_cell_values(tmp_path):
    # trait values
    _bounded(_message(coerce_binary, pd.Series([SHADOW_LINE, "1"]), name="t"))
    _bounded(_message(coerce_binary, pd.Series([0, 1, 2]), name=SHADOW_LINE))
    # .bim position
    dosage = np.zeros((2, 2), dtype=np.float32)
    samples = pd.DataFrame({"FID": ["a", "b"], "IID": ["a", "b"]})
    variants = pd.DataFrame({"chrom": ["1", "1"], "id": ["r1", "r2"], "pos": [10, 20],
                             "A1": ["A", "A"], "A2": ["G", "G"]})
    prefix = write_plink(tmp_path / "p", dosage, samples=samples, variants=variants)
    bim = Path(f"{prefix}.bim")
    bim.write_text(bim.read_text().replace("\t20\t", f"\t{SHADOW_LINE}\t"))
    _bounded(_message(open_plink, prefix))
    # gene tables: unrecognised first line, bad coordinate, header without the columns
    genes = tmp_path / "genes.tsv"
    genes.write_text(SHADOW_LINE + "\n")
    _bounded(_message(read_gene_table, genes))
    genes.write_text(f"gene\tchrom\tstart\tend\nA\t1\t{SHADOW_LINE}\t100\n")
    _bounded(_message(read_gene_table, genes))
    # pedigree: header naming an id column only; a duplicated id
    ped = tmp_path / "ped.tsv"
    ped.write_text(f"id\t{SHADOW_LINE}\tx\n1\t0\t0\n")
    _bounded(_message(read_pedigree, ped))
    ped.write_text(f"id\tsire\tdam\n{SHADOW_LINE}\t0\t0\n{SHADOW_LINE}\t0\t0\n")
    _bounded(_message(read_pedigree, ped))
    # GRM id file with a duplicated id
    (tmp_path / "g.grm.id").write_text(f"{SHADOW_LINE}\tx\n{SHADOW_LINE}\tx\n")
    np.zeros(3, dtype="<f4").tofile(tmp_path / "g.grm.bin")
    _bounded(_message(read_grm, tmp_path / "g"))


def test_binary_file_is_a_readable_error(tmp_path):
    blob = tmp_path / "blob.tsv"
    blob.write_bytes(b"FID\tIID\ty\n\xff\xfe\x00\x81" + SECRET.encode() + b"\n")
    msg = _message(read_phenotypes, blob)
    assert "UTF-8" in msg and SECRET not in msg


# ----------------------------------------------------------------------------- Data page


def test_data_page_refuses_paths_outside_the_roots(roots, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GENOAPP_TEST_SECRET", SECRET)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=180)
    at.run()
    at.radio(key="data_source").set_value("Files on the server").run()
    assert any(str(roots.root) in c.value and ENV_VAR in c.value for c in at.caption)
    at.text_input(key="path_bed").input("assets:demo/human_1kg_hapmap3").run()
    for pheno in ("/etc/shadow", "/proc/self/environ", str(roots.secret)):
        at.text_input(key="path_pheno").input(pheno).run()
        at.button(key="load_paths").click().run()
        assert not at.exception
        assert at.error and "not inside a folder this server may read" in at.error[0].value
        assert SECRET not in at.error[0].value and "root:" not in at.error[0].value
    # inside the roots it loads, and the record keeps root-relative paths
    at.text_input(key="path_pheno").input("assets:demo/demo.pheno.tsv").run()
    at.button(key="load_paths").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    files = at.session_state["genoapp_cohort"]["files"]
    assert files == {"bed": "assets:demo/human_1kg_hapmap3",
                     "phenotypes": "assets:demo/demo.pheno.tsv", "covariates": None}


# ----------------------------------------------------------------------------- uploads


class _Upload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getbuffer(self):
        return memoryview(self._data)


def test_upload_folders_of_ended_sessions_are_swept(monkeypatch):
    monkeypatch.setattr(uploads.st, "session_state", {})
    monkeypatch.setattr(uploads, "live_session_ids", lambda: None)  # unknown: sweep nothing
    owner = {"id": "s1"}
    monkeypatch.setattr(uploads, "_current_session_id", lambda: owner["id"])
    a = uploads.save_uploads([_Upload("a.bed", b"1")], "cohort")
    owner["id"] = "s2"
    b = uploads.save_uploads([_Upload("b.bed", b"2")], "cohort")
    owner["id"] = None  # saved outside a session: only atexit removes it
    c = uploads.save_uploads([_Upload("c.bed", b"3")], "cohort")
    try:
        assert uploads.sweep() == [] and a.exists() and b.exists()
        assert uploads.sweep(["s1", "s2"]) == []
        assert uploads.sweep(["s1"]) == [b]  # s2 has ended
        assert a.exists() and not b.exists() and c.exists()
        assert uploads.sweep([]) == [a]
        assert c.exists()
        # the sweep on save uses the runtime's live sessions
        monkeypatch.setattr(uploads, "live_session_ids", lambda: {"s3"})
        owner["id"] = "s4"
        d = uploads.save_uploads([_Upload("d.bed", b"4")], "cohort")
        owner["id"] = "s3"
        uploads.save_uploads([_Upload("e.bed", b"5")], "cohort")
        assert not d.exists()
        assert uploads._SWEEPER is not None and uploads._SWEEPER.daemon
    finally:
        uploads._remove_all()
        uploads._STOP.clear()
    assert not c.exists()


def test_live_sessions_are_read_from_the_streamlit_runtime(monkeypatch):
    """The session list comes from the installed Streamlit's runtime, connected or resumable."""
    from streamlit.runtime import Runtime, RuntimeConfig
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.session_manager import ActiveSessionInfo, SessionInfo

    assert uploads.live_session_ids() is None  # no runtime
    monkeypatch.setattr(Runtime, "_instance", None)
    rt = Runtime(RuntimeConfig(script_path="app.py",
                               media_file_storage=MemoryMediaFileStorage("/media"),
                               uploaded_file_manager=MemoryUploadedFileManager("/upload")))
    try:
        mgr = rt._session_mgr
        mgr._active_session_info_by_id["s1"] = ActiveSessionInfo(
            client=object(), session=SimpleNamespace(id="s1"))
        mgr._session_storage.save(SessionInfo(client=None, session=SimpleNamespace(id="s2")))
        assert uploads.live_session_ids() == {"s1", "s2"}
    finally:
        Runtime._instance = None


# ----------------------------------------------------------------------------- other pages
# Every page that opens a path typed by the user confines it to the data roots first: the
# Quantitative traits page (fileset, phenotype table, pedigree, GRM), the Features page (gene
# table), the Learn page (sequence CSV) and the Runs page (new individuals to predict). A
# refused path shows one readable error and no byte of the outside file.

REPO_ROOT = Path(__file__).resolve().parents[1]


def _tiny_fileset(prefix: Path, *, n: int = 40, m: int = 30, seed: int = 0) -> tuple:
    """A small PLINK fileset (chromosome 1, positions inside hg19 genes' range) and its tables."""
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(np.float32)
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": "1", "id": [f"rs{j}" for j in range(m)],
                             "pos": 1_000_000 + np.arange(m) * 50_000, "A1": "A", "A2": "G"})
    write_plink(prefix, G, samples=samples, variants=variants)
    return G, samples, variants


def _secret_fileset(prefix: Path) -> Path:
    """An outside PLINK fileset whose .bim and .fam carry the secret."""
    _tiny_fileset(prefix, n=6, m=4)
    for ext in (".bim", ".fam"):
        f = Path(f"{prefix}{ext}")
        f.write_text(f.read_text().replace("rs0", SECRET).replace("I0", SECRET))
    return prefix


def _shown(at) -> str:
    """Every text the page shows (messages, captions, markdown, code, metrics, tables)."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning",
                 "error", "exception", "code", "text", "metric"):
        parts += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    parts += [e.value.to_string() for e in at.dataframe]
    return "\n".join(parts)


def _refused(at, what: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors and "not inside a folder this server may read" in errors[0], errors
    assert what in errors[0], errors
    assert SECRET not in _shown(at)


def _allowed_caption(at, roots) -> None:
    assert any(f"study = {roots.root}" in c.value for c in at.caption), [c.value for c in at.caption]


def test_quantitative_page_refuses_paths_outside_the_roots(roots):
    from streamlit.testing.v1 import AppTest

    from genoapp.workflows.quantitative import load_quantitative_data

    _, samples, _ = _tiny_fileset(roots.root / "q" / "study", n=30)
    rng = np.random.default_rng(1)
    samples.assign(size=rng.normal(size=len(samples)))[["FID", "IID", "size"]].to_csv(
        roots.root / "q" / "pheno.tsv", sep="\t", index=False)
    outside_bed = _secret_fileset(roots.outside / "geno")
    (roots.outside / "rel.grm.id").write_text(f"{SECRET}\t{SECRET}\n")
    (roots.root / "q" / "link.tsv").symlink_to(roots.secret)  # a link inside pointing outside
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "quantitative.py"), default_timeout=180)
    # start on a small cohort (not the mice example) with the server-files form open
    at.session_state["genoapp_quant_data"] = {
        "data": load_quantitative_data(roots.root / "q" / "study",
                                       phenotypes=roots.root / "q" / "pheno.tsv", name="start"),
        "source": "path", "files": {}}
    at.session_state["q_source"] = "Files on the server"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _allowed_caption(at, roots)
    inside_bed, inside_pheno = "study:q/study", str(roots.root / "q" / "pheno.tsv")
    cases = [
        (str(outside_bed), inside_pheno, "none", "", "PLINK fileset"),
        (f"{outside_bed}.bed", inside_pheno, "none", "", "PLINK fileset"),
        (inside_bed, str(roots.secret), "none", "", "phenotype table"),
        (inside_bed, "/etc/shadow", "none", "", "phenotype table"),
        (inside_bed, str(roots.root / "q" / "link.tsv"), "none", "", "phenotype table"),
        (inside_bed, "study:../outside/secret.tsv", "none", "", "phenotype table"),
        (inside_bed, inside_pheno, "pedigree", str(roots.secret), "pedigree file"),
        (inside_bed, inside_pheno, "GRM", str(roots.outside / "rel"), "relationship matrix"),
    ]
    for bed, pheno, rel_kind, rel, what in cases:
        at.text_input(key="q_path_bed").input(bed)
        at.text_input(key="q_path_pheno").input(pheno)
        at.radio(key="q_rel_kind").set_value(rel_kind).run()
        if rel_kind != "none":  # the field is disabled without relationships
            at.text_input(key="q_path_rel").input(rel)
        at.button(key="q_load_paths").click().run()
        if what == "phenotype table" and pheno.startswith("study:"):
            assert at.error and "leaves the data root" in at.error[0].value
            assert SECRET not in _shown(at)
        else:
            _refused(at, what)
        assert at.session_state["genoapp_quant_data"]["data"].name == "start"  # nothing loaded
    # inside the roots it loads, and the record keeps root-relative paths
    at.text_input(key="q_path_bed").input(inside_bed)
    at.text_input(key="q_path_pheno").input(inside_pheno)
    at.radio(key="q_rel_kind").set_value("none").run()
    at.button(key="q_load_paths").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    loaded = at.session_state["genoapp_quant_data"]
    assert loaded["data"].n_samples == 30 and loaded["data"].name == "study"
    files = loaded["files"]
    assert (files["bed"], files["phenotypes"], files["pedigree"], files["grm"]) == (
        "study:q/study", "study:q/pheno.tsv", None, None)


def test_features_page_refuses_a_gene_table_outside_the_roots(roots):
    from streamlit.testing.v1 import AppTest

    from genoapp.train import make_split

    G, _, variants = _tiny_fileset(roots.root / "f", n=60, m=40)
    y = np.tile([0, 1], 30)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180)
    at.run()
    at.session_state["genoapp_qc"] = {"G": G, "variants": variants,
                                      "split": make_split(y, test_size=0.2, random_state=0)}
    at.switch_page("pages/features.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _allowed_caption(at, roots)
    at.radio(key="feature_kind").set_value("genes")
    for path in (str(roots.secret), "/etc/shadow", "~/../../etc/passwd"):
        at.text_input(key="gene_path").input(path)
        at.button(key="build_features").click().run()
        _refused(at, "gene table")
        assert "genoapp_features" not in at.session_state
    # a gene table inside the roots is read, and recorded root-relative
    (roots.root / "genes.tsv").write_text(
        "gene\tchrom\tstart\tend\nGENE_A\t1\t1000000\t1800000\nGENE_B\t1\t1900000\t3000000\n")
    at.text_input(key="gene_path").input(str(roots.root / "genes.tsv"))
    at.button(key="build_features").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["genoapp_features"]["gene_table"] == "study:genes.tsv"


def test_learn_page_refuses_a_csv_outside_the_roots(roots):
    from streamlit.testing.v1 import AppTest

    from genoapp.learn import simulate_sequences

    (roots.outside / "seq.csv").write_text(f"sequences,phenotypes\nACGT{SECRET},1.0\nACGTACGT,2\n")
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "learn.py"), default_timeout=180)
    at.session_state["learn_seq_source"] = "CSV on the server"  # no simulation on opening
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _allowed_caption(at, roots)
    for path in (str(roots.outside / "seq.csv"), str(roots.secret), "/proc/self/environ"):
        at.text_input(key="learn_seq_path").input(path)
        at.button(key="learn_seq_load").click().run()
        _refused(at, "sequence CSV")
        assert "genoapp_learn_seq_data" not in at.session_state
    data = simulate_sequences(120, length=20, n_causal=2, n_pairs=0, n_triples=0, random_state=1)
    data.to_frame().to_csv(roots.root / "seq.csv", index=False)
    at.text_input(key="learn_seq_path").input("study:seq.csv")
    at.button(key="learn_seq_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("120 sequences of 20 bp" in s.value for s in at.success)


@pytest.fixture
def small_run(tmp_path):
    """A saved case/control run with one model (logistic regression on Windows-PCA)."""
    from genoapp.features import FeatureConfig, build_features
    from genoapp.runs import save_casecontrol
    from genoapp.train import make_split
    from genoapp.workflows import QCWorkflowResult
    from genoapp.workflows.casecontrol import compare_models
    from genoapp.workflows.protocol import ProtocolConfig

    rng = np.random.default_rng(4)
    n, m = 80, 30
    G = rng.binomial(2, 0.3, size=(n, m)).astype(np.float32)
    y = ((G[:, 3] - G[:, 7] + rng.normal(scale=0.8, size=n)) > 0).astype(int)
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": "1", "id": [f"rs{j}" for j in range(m)],
                             "pos": 1_000_000 + np.arange(m) * 50_000, "A1": "A", "A2": "G"})
    split = make_split(y, test_size=0.2, random_state=0)
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=10))
    res = compare_models({"Windows-PCA": fs}, split, models=["logreg"],
                         config=ProtocolConfig(seeds=(0,), n_folds=3, validation="holdout",
                                               device="cpu"))
    qc = QCWorkflowResult.__new__(QCWorkflowResult)
    qc.G, qc.variants, qc.samples, qc.split = G, variants, samples, split
    qc.summary = lambda: pd.DataFrame()
    runs = tmp_path / "runs"
    save_casecontrol(res, {"Windows-PCA": fs}, qc, runs_dir=runs, label="paths test")
    return SimpleNamespace(runs=runs, G=G, samples=samples, variants=variants)


def test_runs_page_refuses_new_individuals_outside_the_roots(roots, small_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GENOAPP_RUNS_DIR", str(small_run.runs))
    outside_bed = _secret_fileset(roots.outside / "new")
    (roots.root / "link").symlink_to(roots.outside)  # a linked folder pointing outside
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "runs.py"), default_timeout=180)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _allowed_caption(at, roots)
    for path in (str(outside_bed), f"{outside_bed}.bed", str(roots.root / "link" / "new"),
                 "/etc/shadow"):
        at.text_input(key="predict_path").input(path)
        at.button(key="predict").click().run()
        _refused(at, "PLINK fileset")
        assert "genoapp_runs_prediction" not in at.session_state
    # new individuals inside the roots are scored
    write_plink(roots.root / "new", small_run.G[:10], samples=small_run.samples.iloc[:10],
                variants=small_run.variants)
    at.text_input(key="predict_path").input("study:new")
    at.button(key="predict").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(s.value.startswith("10 individuals scored") for s in at.success)
