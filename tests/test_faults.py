"""Fault injection: hostile or damaged inputs are refused with a readable error, never a
traceback, and leave nothing behind.

Sections (more are added by other parts of the app):

- run bundles and run folders: paths in ``run.json`` that point outside the run, symbolic links
  and special files, inflate and member-count bombs, damaged or forged zips
  (:mod:`genoapp.runs.bundle`, :mod:`genoapp.runs.safety`).
- the run store under faults: a full disk (patched writers), read-only and missing folders, a
  training killed with SIGKILL in the middle of its run, interrupted uploads
  (:mod:`genoapp.runs.store`, :mod:`genoapp.fileio`, :mod:`genoapp.ui.uploads`).

Paths outside the data roots are in ``tests/test_security_paths.py``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import InputDataError

# =============================================================================================
# Run bundles and run folders
# =============================================================================================
#
# One tiny real run (one logistic regression on 60 samples x 20 SNPs, saved by save_run with its
# preprocessing) is bundled once; hostile bundles are that bundle with members rewritten or
# added, so every refusal below is of an otherwise valid bundle. The "evil" pickle creates a
# marker file when unpickled: the tests assert that it never exists.


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A small run saved by :func:`genoapp.runs.save_run` (about a second on a CPU)."""
    from genoapp.features.build import FeatureConfig, build_features
    from genoapp.runs import FeatureProjector, save_run
    from genoapp.train.splits import make_split
    from genoapp.workflows.casecontrol import compare_models
    from genoapp.workflows.protocol import ProtocolConfig

    rng = np.random.default_rng(3)
    n, m = 60, 20
    G = rng.binomial(2, 0.3, size=(n, m)).astype(np.float32)
    y = ((G[:, 1] - G[:, 7] + rng.normal(size=n)) > 0).astype(int)
    variants = pd.DataFrame({"chrom": "1", "id": [f"rs{i}" for i in range(m)], "cM": 0.0,
                             "pos": np.arange(m) * 1000 + 100, "A1": "A", "A2": "G"})
    samples = pd.DataFrame({"FID": [f"f{i}" for i in range(n)], "IID": [f"i{i}" for i in range(n)]})
    split = make_split(y, test_size=0.25, random_state=0)
    fs = build_features(G, variants, split,
                        config=FeatureConfig(kind="windows", window_snps=5, device="cpu"))
    cfg = ProtocolConfig(seeds=(0,), n_folds=2, validation="holdout", device="cpu")
    res = compare_models({"Windows-PCA": fs}, split, models=["logreg"], config=cfg)
    proj = {"Windows-PCA": FeatureProjector.from_feature_set(fs, variants, name="Windows-PCA")}
    root = tmp_path_factory.mktemp("source_runs")
    path = save_run(res, root, projectors=proj, samples=samples, inputs={"Windows-PCA": fs.X},
                    label="faults")
    return {"path": path, "X": fs.X, "split": split}


@pytest.fixture(scope="module")
def good_bundle(saved_run) -> bytes:
    from genoapp.runs import make_bundle

    return make_bundle(saved_run["path"], report=False)


@pytest.fixture()
def runs_root(tmp_path, good_bundle):
    """A runs folder already holding one run (so "unchanged" means something)."""
    from genoapp.runs import load_bundle

    root = tmp_path / "runs"
    load_bundle(good_bundle, root)
    return root


@pytest.fixture()
def evil(tmp_path):
    """An 'evil' pickle outside every runs folder, and the marker its unpickling would create."""
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = outside / "PWNED"
    target = outside / "evil.joblib"
    target.write_bytes(_marker_pickle(marker))
    return {"target": target, "marker": marker, "bytes": _marker_pickle(marker)}


class _Payload:
    """Unpickles as ``open(marker, "w")``: creates the marker file (code execution proof)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _marker_pickle(marker) -> bytes:
    return pickle.dumps(_Payload(marker))


def test_marker_pickle_really_executes_when_loaded(tmp_path):
    """The check of the checks: unpickling the payload does create the marker."""
    import joblib

    marker = tmp_path / "PWNED"
    (tmp_path / "x.joblib").write_bytes(_marker_pickle(marker))
    joblib.load(tmp_path / "x.joblib").close()
    assert marker.exists()


def _state(root: Path) -> tuple:
    """Everything under a runs folder (hidden entries included) and what list_runs shows."""
    from genoapp.runs import list_runs

    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    runs = list_runs(root)  # listable
    return files, sorted(runs["run_id"]), sorted(runs["path"])


def _top(bundle: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(bundle)).namelist()[0].split("/")[0]


def _rezip(bundle: bytes, *, record=None, add=(), compresslevel=None) -> bytes:
    """The bundle with ``run.json`` replaced by ``record`` (a function of the record) and the
    members of ``add`` (``(ZipInfo or name, data)``) appended."""
    src = zipfile.ZipFile(io.BytesIO(bundle))
    top = _top(bundle)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=compresslevel) as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == f"{top}/run.json" and record is not None:
                data = json.dumps(record(json.loads(data))).encode()
            zf.writestr(info, data)
        for name, data in add:
            zf.writestr(name if isinstance(name, zipfile.ZipInfo) else f"{top}/{name}", data)
    return buf.getvalue()


def _patch(data: bytes, member: str, **fields) -> bytes:
    """Overwrite ``crc``, ``compress_size`` or ``file_size`` of one member in both its local
    header and its central-directory entry (a forged zip)."""
    out = bytearray(data)
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo(member)
    local = {"crc": 14, "compress_size": 18, "file_size": 22}
    central = {"crc": 16, "compress_size": 20, "file_size": 24}
    for key, value in fields.items():
        struct.pack_into("<I", out, info.header_offset + local[key], value)
    pos = zf.start_dir
    while out[pos:pos + 4] == b"PK\x01\x02":
        nlen, elen, clen = struct.unpack_from("<HHH", out, pos + 28)
        if out[pos + 46:pos + 46 + nlen].decode() == member:
            for key, value in fields.items():
                struct.pack_into("<I", out, pos + central[key], value)
            return bytes(out)
        pos += 46 + nlen + elen + clen
    raise AssertionError(f"{member} not in the central directory")


class _WriteSpy:
    """Wraps genoapp.runs.bundle._create: counts the files created and the bytes written."""

    def __init__(self, monkeypatch):
        import genoapp.runs.bundle as bundle

        self.files = 0
        self.bytes = 0
        orig = bundle._create
        spy = self

        class _Counting:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, b):
                spy.bytes += len(b)
                return self.f.write(b)

        def create(dest):
            spy.files += 1
            return _Counting(orig(dest))

        monkeypatch.setattr(bundle, "_create", create)


def _refused(bundle: bytes, root: Path, match: str, **limits) -> InputDataError:
    """Load ``bundle`` into ``root``; assert one InputDataError and an unchanged runs folder."""
    from genoapp.runs import load_bundle

    before = _state(root)
    with pytest.raises(InputDataError, match=match) as info:
        load_bundle(bundle, root, **limits)
    assert _state(root) == before
    return info.value


# ---- a valid bundle still works ------------------------------------------------------------
def test_valid_bundle_round_trip(saved_run, good_bundle, tmp_path):
    from genoapp.runs import list_runs, load_bundle, open_run
    from genoapp.workflows.protocol import case_scores

    path = load_bundle(good_bundle, tmp_path / "runs")
    assert path.name == saved_run["path"].name and len(list_runs(tmp_path / "runs")) == 1
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]
    a, b = open_run(saved_run["path"]), open_run(path)
    assert a.record == b.record
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    X = saved_run["X"][saved_run["split"].test_idx]
    np.testing.assert_array_equal(case_scores(a.load_model("logreg", "Windows-PCA", 0), X),
                                  case_scores(b.load_model("logreg", "Windows-PCA", 0), X))
    assert b.projector("Windows-PCA") is not None


# ---- paths in run.json that point outside the run ------------------------------------------
def _set_model_file(value):
    def edit(rec):
        rec["models"][0]["file"] = value
        return rec
    return edit


def _set_preprocess(value):
    def edit(rec):
        rec["preprocess"]["Windows-PCA"] = value
        return rec
    return edit


def _set_scaler(value):
    def edit(rec):
        rec["models"][0]["scaler"] = value
        return rec
    return edit


@pytest.mark.parametrize("entry", [_set_model_file, _set_preprocess, _set_scaler],
                         ids=["model", "preprocess", "scaler"])
@pytest.mark.parametrize("path", [
    "../evil.joblib", "../../outside/evil.joblib", "models/../../evil.joblib", "ABSOLUTE",
    "C:/evil.joblib", "models\\..\\..\\evil.joblib", "//host/share/evil.joblib", "",
])
def test_bundle_with_run_json_pointing_outside_is_refused_before_unpacking(
        good_bundle, runs_root, evil, monkeypatch, entry, path):
    path = str(evil["target"]) if path == "ABSOLUTE" else path
    bad = _rezip(good_bundle, record=entry(path), add=[("evil.joblib", evil["bytes"])])
    spy = _WriteSpy(monkeypatch)
    err = _refused(bad, runs_root, "run.json")
    assert repr(path) in str(err) and "inside the run folder" in str(err)
    assert spy.files == 0  # refused from the record, before unpacking anything
    assert not evil["marker"].exists()


def test_bundle_with_malformed_model_list_is_refused(good_bundle, runs_root):
    def no_file(rec):
        del rec["models"][0]["file"]
        return rec

    _refused(_rezip(good_bundle, record=no_file), runs_root, r"models\[0\]")
    _refused(_rezip(good_bundle, record=lambda r: {**r, "models": "x"}), runs_root, "'models'")
    _refused(_rezip(good_bundle, record=lambda r: {**r, "preprocess": ["a"]}), runs_root,
             "'preprocess'")
    _refused(_rezip(good_bundle, record=_set_model_file(7)), runs_root, "not a text path")


def test_symlink_member_is_refused_and_nothing_is_executed(good_bundle, runs_root, evil,
                                                           monkeypatch):
    link = zipfile.ZipInfo(f"{_top(good_bundle)}/models/link.joblib")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = _rezip(good_bundle, record=_set_model_file("models/link.joblib"),
                 add=[(link, str(evil["target"]))])
    spy = _WriteSpy(monkeypatch)
    _refused(bad, runs_root, "symbolic link")
    assert spy.files == 0 and not evil["marker"].exists()


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK])
def test_special_file_member_is_refused(good_bundle, runs_root, kind):
    info = zipfile.ZipInfo(f"{_top(good_bundle)}/models/special")
    info.create_system = 3
    info.external_attr = (kind | 0o644) << 16
    _refused(_rezip(good_bundle, add=[(info, b"")]), runs_root, "special file")


@pytest.mark.parametrize("name", ["/etc/evil", "run/../../evil", "C:/evil", "run\\..\\evil",
                                  "evil-at-top", ".hidden/run.json", "run/" + "a" * 300])
def test_unsafe_member_names_are_refused(good_bundle, runs_root, name):
    bad = _rezip(good_bundle, add=[(zipfile.ZipInfo(name), b"x")])
    _refused(bad, runs_root, "unsafe|one run folder")


def test_duplicate_and_clashing_members_are_refused(good_bundle, runs_root):
    top = _top(good_bundle)
    with pytest.warns(UserWarning, match="Duplicate name"):
        dup = _rezip(good_bundle, add=[("run.json", b"{}")])
    _refused(dup, runs_root, "appears twice")
    _refused(_rezip(good_bundle, add=[("RUN.json", b"{}")]), runs_root, "appears twice")
    clash = _rezip(good_bundle, add=[(zipfile.ZipInfo(f"{top}/models/x/y"), b"1"),
                                     (zipfile.ZipInfo(f"{top}/models/x"), b"2")])
    _refused(clash, runs_root, "both a file and a folder")


def test_encrypted_member_is_refused(good_bundle, runs_root):
    bad = _rezip(good_bundle, add=[("config2.json", b"{}")])
    zf = zipfile.ZipFile(io.BytesIO(bad))
    info = zf.getinfo(f"{_top(good_bundle)}/config2.json")
    out = bytearray(bad)
    flags = info.flag_bits | 0x1
    struct.pack_into("<H", out, info.header_offset + 6, flags)
    pos = zf.start_dir
    while out[pos:pos + 4] == b"PK\x01\x02":
        nlen, elen, clen = struct.unpack_from("<HHH", out, pos + 28)
        if out[pos + 46:pos + 46 + nlen].decode() == info.filename:
            struct.pack_into("<H", out, pos + 8, flags)
        pos += 46 + nlen + elen + clen
    _refused(bytes(out), runs_root, "encrypted")


# ---- the same checks on a run folder on disk (open_run, Run.load_model, Run.projector) ----
def test_run_folder_with_symlinked_model_is_refused_and_nothing_is_executed(saved_run, tmp_path,
                                                                           evil):
    import shutil

    from genoapp.runs import open_run

    run = tmp_path / "copy"
    shutil.copytree(saved_run["path"], run)
    rec = json.loads((run / "run.json").read_text())
    model = run / rec["models"][0]["file"]
    model.unlink()
    model.symlink_to(evil["target"])
    with pytest.raises(InputDataError, match="symbolic link"):
        open_run(run)
    model.unlink()
    (run / "models").rename(run / "models.real")
    (run / "models").symlink_to(evil["target"].parent, target_is_directory=True)
    with pytest.raises(InputDataError, match="symbolic link"):
        open_run(run)
    assert not evil["marker"].exists()


def test_tampered_record_after_opening_is_refused_by_load_model_and_projector(saved_run, evil):
    from genoapp.runs import open_run

    run = open_run(saved_run["path"])
    run.record["models"][0]["file"] = f"../../{evil['target'].parent.name}/evil.joblib"
    with pytest.raises(InputDataError, match=r"'\.\.'"):
        run.load_model("logreg", "Windows-PCA", 0, device="cpu")
    run.record["preprocess"]["Windows-PCA"] = str(evil["target"])
    with pytest.raises(InputDataError, match="absolute"):
        run.projector("Windows-PCA")
    assert not evil["marker"].exists()


def test_resolve_inside_and_check_run_record_paths(tmp_path, evil):
    from genoapp.runs.safety import check_run_record_paths, resolve_inside

    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    (run / "models" / "m.joblib").write_bytes(b"x")
    (run / "models" / "link").symlink_to(evil["target"])
    (run / "models" / "folder").mkdir()
    os.mkfifo(run / "models" / "fifo")
    real = Path(os.path.realpath(run))
    assert resolve_inside(run, "models/m.joblib", what="model") == real / "models" / "m.joblib"
    assert resolve_inside(run, "models/./m.joblib", what="model") == real / "models" / "m.joblib"
    alias = tmp_path / "alias"  # the run folder itself may be reached through a link
    alias.symlink_to(run, target_is_directory=True)
    assert resolve_inside(alias, "models/m.joblib", what="model") == real / "models" / "m.joblib"
    for rel, match in [("models/link", "symbolic link"), ("models/folder", "a folder"),
                       ("models/fifo", "pipe"), ("models/m.joblib/x", "not a folder"),
                       ("models/none.joblib", "missing"), ("/etc/passwd", "absolute"),
                       ("../x", r"'\.\.'"), ("a\\b", "backslash"), ("c:x", "drive letter"),
                       ("a\x00b", "control"), (".", "run folder itself"), (None, "not a text")]:
        with pytest.raises(InputDataError, match=match) as info:
            resolve_inside(run, rel, what="model file of X")
        assert "model file of X" in str(info.value) and str(run) in str(info.value)
    rec = {"models": [{"name": "A", "file": "models/m.joblib", "scaler": "models/m.joblib"}],
           "preprocess": {"in": "models/m.joblib"}}
    assert len(check_run_record_paths(run, rec)) == 3
    assert check_run_record_paths(run, {"models": [{"file": "models/gone.pt"}]})  # missing is ok
    with pytest.raises(InputDataError, match="missing"):
        check_run_record_paths(run, {"models": [{"file": "models/gone.pt"}]}, must_exist=True)
    for bad in ({"models": [{"name": "A", "file": "models/m.joblib", "scaler": "../s.npz"}]},
                {"preprocess": {"in": "models/fifo"}}, {"models": [{"file": "models/link"}]}):
        with pytest.raises(InputDataError):
            check_run_record_paths(run, bad)


def test_make_bundle_refuses_a_run_folder_with_a_symlink(saved_run, tmp_path, evil):
    import shutil

    from genoapp.runs import make_bundle

    run = tmp_path / "copy"
    shutil.copytree(saved_run["path"], run)
    (run / "notes.txt").symlink_to(evil["target"])  # would leak an outside file into the zip
    with pytest.raises(InputDataError, match="symbolic link"):
        make_bundle(run, report=False)


# ---- inflate and member-count bombs --------------------------------------------------------
def _declared(bundle: bytes) -> int:
    return sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bundle)).infolist())


def test_inflate_bomb_with_forged_small_sizes_writes_nothing_past_the_limit(
        good_bundle, runs_root, monkeypatch):
    top = _top(good_bundle)
    bomb = _rezip(good_bundle, add=[("models/bomb.joblib", b"\0" * (8 << 20))], compresslevel=9)
    assert len(bomb) < len(good_bundle) + 64_000  # 8 MiB of zeros in a few kB
    forged = _patch(bomb, f"{top}/models/bomb.joblib", file_size=1000)
    limit = _declared(good_bundle) + 64 * 1024
    spy = _WriteSpy(monkeypatch)
    _refused(forged, runs_root, "damaged or forged", max_bytes=limit)
    assert spy.bytes <= limit


def test_inflate_bomb_from_a_reader_that_trusts_lying_sizes_stops_at_the_limit(
        good_bundle, runs_root, monkeypatch):
    """Declared sizes can lie: the bytes actually written are counted and stop at the limit
    (simulated with a member stream that yields far more than the zip declares)."""
    bomb = _rezip(good_bundle, add=[("models/bomb.joblib", b"\0" * 100)])
    limit = _declared(bomb) + 64 * 1024
    real_open = zipfile.ZipFile.open

    def lying_open(self, member, *args, **kwargs):
        name = member.filename if isinstance(member, zipfile.ZipInfo) else member
        if name.endswith("bomb.joblib"):
            return io.BytesIO(b"\0" * (4 << 20))
        return real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", lying_open)
    spy = _WriteSpy(monkeypatch)
    _refused(bomb, runs_root, "more than the .* allowed", max_bytes=limit)
    assert 0 < spy.bytes <= limit


def test_inflate_bomb_with_honest_sizes_is_refused_before_writing(good_bundle, runs_root,
                                                                  monkeypatch):
    bomb = _rezip(good_bundle, add=[("models/bomb.joblib", b"\0" * (1 << 20))], compresslevel=9)
    spy = _WriteSpy(monkeypatch)
    err = _refused(bomb, runs_root, "unpacks to .* more than", max_bytes=512 * 1024)
    assert "max_bytes" in str(err) and spy.files == 0


def test_member_count_bomb_is_refused_before_writing(good_bundle, runs_root, monkeypatch):
    from genoapp.runs.bundle import MAX_BUNDLE_MEMBERS

    spy = _WriteSpy(monkeypatch)
    few = _rezip(good_bundle, add=[(f"models/m{i}.bin", b"") for i in range(50)])
    _refused(few, runs_root, "members, more than the 20 allowed", max_members=20)
    many = _rezip(good_bundle, add=[(f"m/{i}", b"") for i in range(MAX_BUNDLE_MEMBERS)])
    err = _refused(many, runs_root, "more than the 10,000 allowed")  # default limit
    assert "max_members" in str(err) and spy.files == 0


# ---- damaged and forged zips ---------------------------------------------------------------
def _model_member(bundle: bytes) -> zipfile.ZipInfo:
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    return next(i for i in zf.infolist() if "/models/" in i.filename)


@pytest.mark.parametrize("fault", ["crc", "data", "bigger", "compress_size"])
def test_corrupted_member_is_refused_without_traceback(good_bundle, runs_root, fault):
    info = _model_member(good_bundle)
    if fault == "crc":
        bad = _patch(good_bundle, info.filename, crc=info.CRC ^ 0xFFFF)
    elif fault == "data":  # a flipped byte in the compressed data
        out = bytearray(good_bundle)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        out[start + info.compress_size // 2] ^= 0xFF
        bad = bytes(out)
    elif fault == "bigger":  # declares more data than it holds
        bad = _patch(good_bundle, info.filename, file_size=info.file_size * 4 + 100)
    else:
        bad = _patch(good_bundle, info.filename, compress_size=info.compress_size // 2)
    _refused(bad, runs_root, "damaged or forged|not a zip file")


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9, -22, -1])
def test_truncated_zip_is_refused(good_bundle, runs_root, keep):
    n = int(len(good_bundle) * keep) if keep > 0 else len(good_bundle) + keep
    _refused(good_bundle[:n], runs_root, "not a zip file|damaged or forged")


def test_random_byte_flips_give_a_run_or_a_readable_error(good_bundle, tmp_path):
    """Fault injection over the whole file: any single flipped byte either still loads (a
    timestamp, a comment) or gives an InputDataError; never another exception, never a
    leftover temporary folder."""
    from genoapp.runs import list_runs, load_bundle

    rng = np.random.default_rng(0)
    root = tmp_path / "runs"
    for k, pos in enumerate(rng.choice(len(good_bundle), size=40, replace=False)):
        bad = bytearray(good_bundle)
        bad[pos] ^= 1 << int(rng.integers(8))
        try:
            load_bundle(bytes(bad), root / str(k))
        except InputDataError:
            pass
        if (root / str(k)).exists():
            assert not [p for p in (root / str(k)).iterdir() if p.name.startswith(".")]
            list_runs(root / str(k))


def test_bundle_without_run_json_or_with_a_huge_one_is_refused(good_bundle, runs_root):
    top = _top(good_bundle)
    src = zipfile.ZipFile(io.BytesIO(good_bundle))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            if info.filename != f"{top}/run.json":
                zf.writestr(info, src.read(info))
    _refused(buf.getvalue(), runs_root, "no .*run.json")
    _refused(_rezip(good_bundle, record=lambda r: [r]), runs_root, "not a genoapp run record")


def test_bundle_from_a_file_path_and_a_missing_file(good_bundle, runs_root, tmp_path):
    p = tmp_path / "damaged.zip"
    p.write_bytes(good_bundle[: len(good_bundle) // 2])
    err = _refused(p, runs_root, "not a zip file")
    assert str(p) in str(err)
    _refused(tmp_path / "absent.zip", runs_root, "no such file")


# =============================================================================================
# The run store under faults
# =============================================================================================


def _listing(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _result(saved_run):
    """A fresh comparison result to save (the saved run's own settings)."""
    from genoapp.features.build import FeatureConfig, build_features
    from genoapp.workflows.casecontrol import compare_models
    from genoapp.workflows.protocol import ProtocolConfig

    rng = np.random.default_rng(4)
    n, m = 60, 20
    G = rng.binomial(2, 0.3, size=(n, m)).astype(np.float32)
    y = ((G[:, 1] + rng.normal(size=n)) > 0.6).astype(int)
    from genoapp.train.splits import make_split

    split = make_split(y, test_size=0.25, random_state=0)
    variants = pd.DataFrame({"chrom": "1", "id": [f"rs{i}" for i in range(m)], "cM": 0.0,
                             "pos": np.arange(m) * 1000 + 100, "A1": "A", "A2": "G"})
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=5))
    cfg = ProtocolConfig(seeds=(0,), n_folds=2, device="cpu")
    return compare_models({"W": fs}, split, models=["logreg", "capsule"], config=cfg,
                          overrides={"capsule": {"epochs": 1}})


@pytest.fixture(scope="module")
def fresh_result(saved_run):
    return _result(saved_run)


@pytest.mark.parametrize("where", ["csv", "torch", "json"])
def test_full_disk_while_saving_gives_one_clear_message_and_leaves_nothing(
        fresh_result, runs_root, monkeypatch, where):
    """ENOSPC from any writer (a CSV table, the torch model file, run.json) ends in one
    StorageError naming what, where and the free space; the runs folder is unchanged."""
    import errno

    from genoapp.errors import StorageError
    from genoapp.runs import list_runs, save_run

    before = _listing(runs_root)

    def enospc(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "csv":
        monkeypatch.setattr(pd.DataFrame, "to_csv", enospc)
    elif where == "torch":
        import torch

        def torch_full(*a, **k):  # what torch.save raises on a full disk
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 448 vs 342")
        monkeypatch.setattr(torch, "save", torch_full)
    else:
        monkeypatch.setattr(Path, "write_text", enospc)
    with pytest.raises(StorageError) as err:
        save_run(fresh_result, runs_root, label="full disk")
    msg = str(err.value)
    assert "the disk is full" in msg and str(runs_root) in msg and "free space" in msg
    assert "Traceback" not in msg
    monkeypatch.undo()
    assert _listing(runs_root) == before and len(list_runs(runs_root)) == 1


def test_full_disk_in_the_cli_is_exit_status_2_without_traceback(tmp_path):
    """The CLI turns a StorageError into its message and exit status 2."""
    import subprocess
    import sys

    code = (
        "import errno, sys, pandas as pd\n"
        "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "pd.DataFrame.to_csv = full\n"
        "from genoapp.__main__ import main\n"
        "sys.exit(main(['run', '--preset', 'teaching-demo', '--runs-dir', sys.argv[1], '--quiet']))\n"
    )
    cfg = {"kind": "casecontrol", "label": "tiny", "data": {"source": "demo"},
           "selection": {}, "qc": {}, "features": {},
           "train": {"models": ["logreg"], "preset": "quick",
                     "protocol": {"seeds": [0], "n_folds": 2}}}
    (tmp_path / "tiny.json").write_text(json.dumps(cfg))
    code = code.replace("'--preset', 'teaching-demo'", f"'--config', {str(tmp_path / 'tiny.json')!r}")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs")], capture_output=True,
                         text=True, timeout=600, env=env, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 2, out.stderr[-2000:]
    assert "disk is full" in out.stderr and "Traceback" not in out.stderr
    assert [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".write-probe")] == []


def test_read_only_or_unwritable_runs_folder_is_found_before_training(tmp_path, monkeypatch):
    """check_runs_dir refuses a folder that cannot be written (here: a path under a regular
    file, and a patched probe write standing in for a read-only mount) before any work."""
    import errno

    from genoapp.errors import StorageError
    from genoapp.runs import check_runs_dir

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="Could not write the runs folder"):
        check_runs_dir(blocker / "runs")

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(StorageError, match="read-only"):
        check_runs_dir(tmp_path / "ro")


def test_almost_full_runs_folder_is_refused_before_training(tmp_path, monkeypatch):
    import shutil as _shutil

    from genoapp.errors import StorageError
    from genoapp.runs import check_runs_dir

    usage = _shutil.disk_usage(tmp_path)
    monkeypatch.setattr("genoapp.fileio.shutil.disk_usage",
                        lambda p: usage._replace(free=10_000_000))
    with pytest.raises(StorageError, match="only 10.0 MB free"):
        check_runs_dir(tmp_path)


_KILL_SCRIPT = """
import os, sys, threading, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from genoapp.__main__ import main
sys.exit(main(["run", "--config", sys.argv[1], "--runs-dir", sys.argv[2]]))
"""


def test_sigkill_mid_training_leaves_a_listable_runs_folder(saved_run, tmp_path):
    """A `python -m genoapp run` killed with SIGKILL while training (and while saving) leaves
    every earlier run listed and readable; any leftover is a hidden folder reported by
    incomplete_runs, never a listed run."""
    import signal
    import subprocess
    import sys
    import time

    from genoapp.runs import incomplete_runs, list_runs, load_bundle, make_bundle, open_run

    root = tmp_path / "runs"
    load_bundle(make_bundle(saved_run["path"], report=False), root)  # an earlier run
    cfg = {"kind": "casecontrol", "label": "killed", "data": {"source": "demo"}, "selection": {},
           "qc": {}, "features": {}, "train": {"models": ["mlp"], "preset": "quick",
                                               "overrides": {"mlp": {"epochs": 500}},
                                               "protocol": {"seeds": [0]}}}
    (tmp_path / "long.json").write_text(json.dumps(cfg))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(tmp_path / "long.json"), str(root)],
                            stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[1])
    seen = ""
    t0 = time.time()
    while time.time() - t0 < 300:  # wait until training has started
        line = proc.stderr.readline()
        seen += line
        if "Train" in line or not line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, seen[-2000:]
    runs = list_runs(root)
    assert len(runs) == 1 and open_run(runs.loc[0, "path"]).record["label"] == "faults"
    assert all(r.startswith(".") for r in incomplete_runs(root)["folder"])
    # a kill while the run folder is being written leaves only a hidden .tmp folder
    half = root / ".20260101-000000-killed-abcdef.1234abcd.tmp"
    (half / "models").mkdir(parents=True)
    (half / "metrics.csv").write_text("model\n")
    assert len(list_runs(root)) == 1
    inc = incomplete_runs(root)
    assert half.name in set(inc["folder"]) and "killed" in inc.loc[inc["folder"] == half.name, "reason"].iloc[0]
    from genoapp.runs import remove_incomplete

    os.utime(half, (time.time() - 7200, time.time() - 7200))
    assert half.name in remove_incomplete(root) and not half.exists()
    assert len(list_runs(root)) == 1


def test_interrupted_upload_leaves_no_folder(monkeypatch):
    """An upload that fails half-way (a file that cannot be read) removes its private folder."""
    import tempfile

    from genoapp.ui import uploads

    class _File:
        def __init__(self, name, data=None):
            self.name = name
            self._data = data

        def getbuffer(self):
            if self._data is None:
                raise ConnectionResetError("the browser went away")
            return memoryview(self._data)

    made = []
    real = tempfile.mkdtemp

    def spy(*a, **k):
        made.append(Path(real(*a, **k)))
        return str(made[-1])

    monkeypatch.setattr(uploads.tempfile, "mkdtemp", spy)
    with pytest.raises(ConnectionResetError):
        uploads.save_uploads([_File("a.bed", b"\x6c\x1b\x01"), _File("a.bim")], "cohort")
    assert made and not made[0].exists()
