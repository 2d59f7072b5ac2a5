"""Data-parallel training (genoapp.models.ddp, ``python -m genoapp train-ddp``): two gloo
processes on the CPU train DiseaseCapsule and the MLP to the same weights as one process that
follows the same sample order (``reference_world_size=2``); errors exit 2 with a clear message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genoapp.__main__ import main
from genoapp.errors import ConfigError, InputDataError
from genoapp.models import DiseaseCapsuleClassifier, TorchMLPClassifier
from genoapp.models.ddp import (
    ReferenceSampler,
    distributed_env,
    fit_ddp,
    make_estimator,
    per_process_batch_size,
    read_feature_arrays,
)

REPO = Path(__file__).resolve().parents[1]

_DIST = torch.distributed.is_available() and torch.distributed.is_gloo_available()
needs_gloo = pytest.mark.skipif(not _DIST, reason="torch.distributed with the gloo backend is "
                                                   "not available in this torch build")

#: what a gloo process prints when a peer tears the group down under it (a race under load)
_TEARDOWN_ABORT = "terminate called without an active exception"
#: capsule network of the torchrun test (no dropout: each process would draw its own masks)
CAPSULE = {"epochs": 3, "batch_size": 12, "dropout": 0.0, "learning_rate": 1e-3,
           "length_scale": 5.0, "device": "cpu", "random_state": 3}
#: MLP of the spawn test
MLP = {"epochs": 3, "batch_size": 16, "dropout": 0.0, "learning_rate": 1e-3, "device": "cpu",
       "hidden": [24, 12], "random_state": 1}


class SGDMLP(TorchMLPClassifier):
    """The MLP with plain SGD: rounding noise in a gradient stays rounding noise.

    (Adam divides a gradient by its own magnitude, so the biases of layers followed by batch
    norm, whose gradient is zero in exact arithmetic, take steps of up to the learning rate
    from rounding noise alone; see test_adam_mlp_matches_except_zero_gradient_biases.)
    """

    def _optimizer(self, module):
        return torch.optim.SGD(module.parameters(), lr=float(self.learning_rate)), None


def _data(n=64, f=12, n_val=0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
    out = {"X": X, "y": y}
    if n_val:
        Xv = rng.normal(size=(n_val, f)).astype(np.float32)
        out.update(X_val=Xv, y_val=(Xv[:, 0] - Xv[:, 1] > 0).astype(np.int64))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _module(est):
    return getattr(est, est._module_attr)


def _state_diffs(a, b) -> dict[str, float]:
    sa, sb = _module(a).state_dict(), _module(b).state_dict()
    assert sa.keys() == sb.keys()
    return {k: float((sa[k].double() - sb[k].double()).abs().max()) for k in sa}


def _moved(est, cls, params) -> float:
    """Largest change of a weight from its initial value (the test must not be vacuous)."""
    with torch.random.fork_rng():
        torch.manual_seed(params["random_state"])
        fresh = cls(**params)
        init = fresh._build_module(est.n_features_in_)
        fresh._init_module(init)
    return max(float((v.double() - init.state_dict()[k].double()).abs().max())
               for k, v in _module(est).state_dict().items() if k.endswith("weight"))


# --------------------------------------------------------------------------------------------
# the sample order
# --------------------------------------------------------------------------------------------
def test_reference_order_is_the_union_of_the_processes_batches():
    from torch.utils.data.distributed import DistributedSampler

    n, W, b, seed = 23, 3, 2, 7  # n not divisible by W: the samplers pad
    ref = ReferenceSampler(n, world_size=W, random_state=seed)
    ranks = [DistributedSampler(range(n), num_replicas=W, rank=r, shuffle=True, seed=seed)
             for r in range(W)]
    for epoch in (0, 1):
        ref.set_epoch(epoch)
        for s in ranks:
            s.set_epoch(epoch)
        order = list(ref)
        local = [list(s) for s in ranks]
        assert len(order) == len(ref) == W * len(local[0]) == 24
        assert sorted(set(order)) == list(range(n))
        for k in range(-(-len(local[0]) // b)):  # global batch k = union of the local ones
            assert order[k * W * b:(k + 1) * W * b] == \
                [i for j in range(k * b, min((k + 1) * b, len(local[0]))) for i in
                 (loc[j] for loc in local)]
            assert sorted(order[k * W * b:(k + 1) * W * b]) == \
                sorted(i for loc in local for i in loc[k * b:(k + 1) * b])
    one = ReferenceSampler(n, world_size=1, random_state=seed)
    one.set_epoch(1)
    g = torch.Generator().manual_seed(seed + 1)
    assert list(one) == torch.randperm(n, generator=g).tolist()


def test_per_process_batch_size():
    assert per_process_batch_size(128, 4) == 32
    assert per_process_batch_size(7, 1) == 7
    with pytest.raises(ConfigError, match=r"batch_size: 18 is not divisible by the number of "
                                          r"processes \(4\).*16 or 20"):
        per_process_batch_size(18, 4)
    with pytest.raises(ConfigError, match="positive integer"):
        per_process_batch_size(16, 0)


# --------------------------------------------------------------------------------------------
# two processes == one process (the reference)
# --------------------------------------------------------------------------------------------
@needs_gloo
@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None,
                    reason="torchrun not found beside the Python interpreter")
def test_torchrun_cli_capsule_equals_the_single_process_reference(tmp_path):
    d = _data(n=63)  # odd: the samplers pad to 64; batches of 12 = 2 x 6, last one 2 x 2
    np.savez(tmp_path / "f.npz", **d)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    params = {k: v for k, v in CAPSULE.items() if k != "random_state"}
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node", "2",
           "-m", "genoapp", "train-ddp", "--features", str(tmp_path / "f.npz"),
           "--model", "capsule", "--params", json.dumps(params), "--out",
           str(tmp_path / "model.pt"), "--seed", str(CAPSULE["random_state"])]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    if out.returncode != 0 and _TEARDOWN_ABORT in out.stderr:  # the gloo race (_spawn_mlps)
        out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 processes, backend gloo" in out.stderr and "epoch 3/3" in out.stderr
    assert out.stdout.count("model:") == 1  # process 0 only

    got = DiseaseCapsuleClassifier.load(tmp_path / "model.pt", device="cpu")
    assert got.get_params()["device"] == "cpu" and got.random_state == CAPSULE["random_state"]
    ref = fit_ddp(DiseaseCapsuleClassifier(**CAPSULE), d["X"], d["y"], reference_world_size=2)
    diffs = _state_diffs(ref, got)
    assert max(diffs.values()) < 1e-5, diffs
    assert _moved(ref, DiseaseCapsuleClassifier, CAPSULE) > 1e-3  # training did move the weights
    np.testing.assert_allclose(got.predict_proba(d["X"]), ref.predict_proba(d["X"]), atol=1e-5)
    np.testing.assert_allclose([h["train_loss"] for h in got.history_],
                               [h["train_loss"] for h in ref.history_], rtol=1e-5)
    # one process without the reference order is another fit (the test is not vacuous)
    plain = DiseaseCapsuleClassifier(**CAPSULE).fit(d["X"], d["y"])
    assert max(_state_diffs(plain, got).values()) > 1e-4


def _spawn_worker(rank, world, port, data_path, out_dir):
    """One of the spawned processes: a process group of our own, then fit_ddp (which uses it)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        with np.load(data_path) as f:
            d = {k: f[k] for k in f.files}
        for name, cls in (("sgd", SGDMLP), ("adam", TorchMLPClassifier)):
            params = {**MLP, "learning_rate": 0.05} if name == "sgd" else MLP
            est = fit_ddp(cls(**params), d["X"], d["y"], X_val=d["X_val"], y_val=d["y_val"],
                          out=Path(out_dir) / f"{name}.pt")
            torch.save({k: v.clone() for k, v in _module(est).state_dict().items()},
                       Path(out_dir) / f"{name}.rank{rank}.pt")
            # the estimator keeps its own batch-norm layers (not the training-time ones)
            assert type(_module(est).net[1]).__name__ == "BatchNorm1dAnySize"
            assert est.device == "cpu" and est.history_[-1]["epoch"] == 3
        torch.distributed.barrier()  # both done before either tears the group down
        (Path(out_dir) / f"rank{rank}.done").touch()
    finally:
        torch.distributed.destroy_process_group()


def _spawn_mlps(tmp) -> str | None:
    """Run the two workers once; None when both finished, else why not.

    A gloo process group can abort one process while the group is torn down, after all the
    work and the final barrier ("terminate called without an active exception": a peer closed
    its connections first; seen once in a loaded CI run). The ``rank*.done`` files are written
    after that barrier, so such a teardown abort leaves complete, valid results.
    """
    import torch.multiprocessing as mp

    ctx = mp.start_processes(_spawn_worker, args=(2, _free_port(), str(tmp / "f.npz"), str(tmp)),
                             nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + 240
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                for p in ctx.processes:
                    p.kill()
                pytest.fail("the spawned DDP processes did not finish within 240 s")
    except mp.ProcessExitedException as exc:
        if all((tmp / f"rank{r}.done").exists() for r in (0, 1)):
            return None  # aborted in the teardown, after the results were written
        return str(exc)
    return None


@pytest.fixture(scope="module")
def spawned_mlps(tmp_path_factory):
    """Two gloo processes train the SGD and the Adam MLP with validation data."""
    if not _DIST:
        pytest.skip("torch.distributed with the gloo backend is not available")
    d = _data(n=64, n_val=21, seed=5)  # validation shards of 11 and 10 samples
    errors = []
    for _ in range(2):  # a second try, on a fresh port, if a process died before finishing
        tmp = tmp_path_factory.mktemp("ddp_spawn")
        np.savez(tmp / "f.npz", **d)
        error = _spawn_mlps(tmp)
        if error is None:
            return tmp, d
        errors.append(error)
    pytest.fail(f"the spawned DDP processes failed twice: {errors}")


def test_spawned_sgd_mlp_with_batch_norm_and_validation_equals_the_reference(spawned_mlps):
    tmp, d = spawned_mlps
    params = {**MLP, "learning_rate": 0.05}
    got = SGDMLP.load(tmp / "sgd.pt", device="cpu")
    ref = fit_ddp(SGDMLP(**params), d["X"], d["y"], X_val=d["X_val"], y_val=d["y_val"],
                  reference_world_size=2)
    diffs = _state_diffs(ref, got)  # weights, biases, batch-norm running statistics
    assert max(diffs.values()) < 1e-5, diffs
    assert _moved(ref, SGDMLP, params) > 1e-2
    np.testing.assert_allclose(got.predict_proba(d["X_val"]), ref.predict_proba(d["X_val"]),
                               atol=1e-5)
    assert got.best_epoch_ == ref.best_epoch_ is not None
    for g, r in zip(got.history_, ref.history_, strict=True):  # all-reduced logs
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert g[key] == pytest.approx(r[key], rel=1e-5, abs=1e-6), key
    # both processes ended with the same weights (the file is process 0's)
    s0, s1 = (torch.load(tmp / f"sgd.rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(s0[k], s1[k]) for k in s0)


def test_adam_mlp_matches_except_zero_gradient_biases(spawned_mlps):
    """With Adam, parameters whose gradient is zero in exact arithmetic (the biases of the
    Linear layers followed by batch norm) move by rounding noise divided by its own size: steps
    of up to the learning rate, different in any two summation orders (so are the running
    means they shift). Every other parameter matches the reference."""
    tmp, d = spawned_mlps
    got = TorchMLPClassifier.load(tmp / "adam.pt", device="cpu")
    ref = fit_ddp(TorchMLPClassifier(**MLP), d["X"], d["y"], X_val=d["X_val"], y_val=d["y_val"],
                  reference_world_size=2)
    diffs = _state_diffs(ref, got)
    noisy = {k for k in diffs if k.endswith(("0.bias", "4.bias", "running_mean"))}
    assert noisy == {"net.0.bias", "net.4.bias", "net.1.running_mean", "net.5.running_mean"}
    assert max(v for k, v in diffs.items() if k not in noisy) < 1e-5, diffs
    n_steps = MLP["epochs"] * 4
    assert max(diffs[k] for k in noisy) < 3 * MLP["learning_rate"] * n_steps
    s0, s1 = (torch.load(tmp / f"adam.rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(s0[k], s1[k]) for k in s0)


# --------------------------------------------------------------------------------------------
# one process, and errors
# --------------------------------------------------------------------------------------------
def _no_torchrun(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)


def test_cli_without_torchrun_trains_in_one_process(tmp_path, monkeypatch, capsys):
    _no_torchrun(monkeypatch)
    d = _data(n=40, n_val=10)
    np.savez(tmp_path / "f.npz", **d)
    params = '{"epochs": 2, "batch_size": 8, "dropout": 0, "hidden": [8], "device": "cpu"}'
    rc = main(["train-ddp", "--features", str(tmp_path / "f.npz"), "--model", "mlp",
               "--params", params, "--out", str(tmp_path / "m.pt"), "--seed", "4"])
    err = capsys.readouterr()
    assert rc == 0, err.err
    assert "not started by torchrun" in err.err and "one process" in err.err
    assert f"model: {tmp_path / 'm.pt'}" in err.out
    got = TorchMLPClassifier.load(tmp_path / "m.pt", device="cpu")
    ref = fit_ddp(make_estimator("mlp", params, random_state=4), d["X"], d["y"],
                  X_val=d["X_val"], y_val=d["y_val"])
    assert max(_state_diffs(ref, got).values()) == 0.0  # same process, same order: bitwise
    assert got.random_state == 4 and got.best_epoch_ is not None


def test_cli_errors_exit_2_naming_the_file_or_setting(tmp_path, monkeypatch, capsys):
    _no_torchrun(monkeypatch)
    d = _data(n=16)
    np.savez(tmp_path / "f.npz", **d)
    base = ["train-ddp", "--out", str(tmp_path / "m.pt")]

    def run(*args) -> str:
        rc = main([*base, *args])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert err.startswith("error: ")
        return err

    assert "nope.npz: feature file not found" in run("--features", str(tmp_path / "nope.npz"))
    np.savez(tmp_path / "noy.npz", X=d["X"])
    assert "noy.npz: no array 'y'" in run("--features", str(tmp_path / "noy.npz"))
    f = str(tmp_path / "f.npz")
    assert "--params: not valid JSON" in run("--features", f, "--params", "{epochs: 2}")
    assert "['epoch'] are not parameters of DiseaseCapsuleClassifier" in \
        run("--features", f, "--params", '{"epoch": 2}')
    # under torchrun with 3 processes, a global batch of 16 cannot be shared out
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "0")
    err = run("--features", f, "--params", '{"batch_size": 16, "device": "cpu"}')
    assert "batch_size: 16 is not divisible by the number of processes (3)" in err
    assert not (tmp_path / "m.pt").exists()
    assert not torch.distributed.is_initialized()  # failed before any process group


def test_fit_ddp_errors(monkeypatch):
    _no_torchrun(monkeypatch)
    d = _data(n=16)
    with pytest.raises(ConfigError, match=r"batch_size: 16 is not divisible .* \(3\)"):
        fit_ddp(DiseaseCapsuleClassifier(batch_size=16), d["X"], d["y"], reference_world_size=3)
    with pytest.raises(ConfigError, match="reference_world_size: must be a positive integer"):
        fit_ddp(DiseaseCapsuleClassifier(), d["X"], d["y"], reference_world_size=0)
    with pytest.raises(ConfigError, match="expected a genoapp torch estimator"):
        fit_ddp(object(), d["X"], d["y"])
    with pytest.raises(ConfigError, match="learning_rate: must be > 0"):
        fit_ddp(TorchMLPClassifier(learning_rate=-1.0), d["X"], d["y"])
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="need 0 <= RANK < WORLD_SIZE"):
        distributed_env()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="expected integers"):
        distributed_env()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="reference_world_size: only for a single process"):
        fit_ddp(TorchMLPClassifier(batch_size=8, device="cpu"), d["X"], d["y"],
                reference_world_size=2)
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros(8), "y": np.zeros(8)}, "X must be a 2-D numeric matrix"),
    ({"X": np.zeros((8, 3)), "y": np.zeros(7)}, "y must hold one label per row of X"),
    ({"X": np.zeros((8, 3)), "y": np.full(8, 2)}, r"y labels must be 0 \(control\) or 1"),
    ({"X": np.full((8, 3), np.nan), "y": np.zeros(8)}, "X holds NaN"),
    ({"X": np.zeros((8, 3)), "y": np.zeros(8), "X_val": np.zeros((2, 3))},
     "has only one of X_val and y_val"),
    ({"X": np.zeros((8, 3)), "y": np.zeros(8), "X_val": np.zeros((2, 4)), "y_val": np.zeros(2)},
     "X_val has 4 columns but X has 3"),
    ({"X": np.array([["a"] * 3] * 8), "y": np.zeros(8)}, "X must be a 2-D numeric matrix"),
])
def test_read_feature_arrays_rejects_bad_arrays(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputDataError, match=f"bad.npz: {message}"):
        read_feature_arrays(tmp_path / "bad.npz")


def test_read_feature_arrays_reads_npz_and_rejects_other_files(tmp_path):
    d = _data(n=10, n_val=4)
    np.savez(tmp_path / "f.npz", **d)
    got = read_feature_arrays(tmp_path / "f.npz")
    assert all(np.array_equal(got[k], d[k]) for k in d)
    np.savez(tmp_path / "g.npz", X=d["X"], y=d["y"][:, None])
    got = read_feature_arrays(tmp_path / "g.npz")
    assert got["y"].shape == (10,) and got["X_val"] is None and got["y_val"] is None
    (tmp_path / "t.npz").write_text("not an archive")
    with pytest.raises(InputDataError, match="t.npz: not a readable .npz archive"):
        read_feature_arrays(tmp_path / "t.npz")
    np.save(tmp_path / "a.npy", d["X"])
    with pytest.raises(InputDataError, match="a.npy: not a readable .npz archive"):
        read_feature_arrays(tmp_path / "a.npy")


def test_read_feature_arrays_zarr(tmp_path):
    d = _data(n=10)
    try:
        import zarr
    except ImportError:
        (tmp_path / "f.zarr").mkdir()
        with pytest.raises(InputDataError, match="f.zarr: a Zarr store, but the zarr package"):
            read_feature_arrays(tmp_path / "f.zarr")
        return
    root = zarr.open_group(str(tmp_path / "f.zarr"), mode="w")
    for k, v in d.items():
        root[k] = v
    got = read_feature_arrays(tmp_path / "f.zarr")
    assert np.array_equal(got["X"], d["X"]) and np.array_equal(got["y"], d["y"])


def test_zarr_feature_store_with_labels_is_a_train_ddp_input(tmp_path):
    """A store written by genoapp (features/zarr_store) with labels is read by train-ddp."""
    pytest.importorskip("zarr")
    from genoapp.features.zarr_store import open_features_zarr, write_features_zarr
    from genoapp.models.ddp import read_feature_arrays

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 7)).astype(np.float32)
    y = np.tile([0, 1], 15)
    path = write_features_zarr(X, tmp_path / "train.zarr", labels=y, chunks=(8, 4))
    got = read_feature_arrays(path)
    np.testing.assert_array_equal(got["X"], X)
    np.testing.assert_array_equal(got["y"], y)
    assert open_features_zarr(path).shape == (30, 7)
    with pytest.raises(InputDataError, match="labels must be 30 values"):
        write_features_zarr(X, tmp_path / "bad.zarr", labels=np.full(30, 2))
