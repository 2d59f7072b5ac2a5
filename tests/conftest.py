"""Shared pytest fixtures.

Real-data tests read ``../shared/data`` (beside the repository, present in CI). Where it is
absent (a user's clone) they skip with a clear reason. ``GENOAPP_SHARED`` overrides the path.
"""

from __future__ import annotations

import contextlib
import os

# Idle OpenMP threads (torch) spin by default and starve the other tests on a 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENOAPP_SHARED", REPO_ROOT.parent / "shared")).resolve()
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test where it is absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real-data test: {SHARED_DATA} not found (set GENOAPP_SHARED or run in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def plink19() -> str:
    """Path of the ``plink1.9`` executable; skips where it is not installed."""
    exe = shutil.which("plink1.9") or shutil.which("plink")
    if exe is None:
        pytest.skip("reference test: plink1.9 not installed (apt-get install plink1.9; .ci/run does)")
    return exe


@pytest.fixture(scope="session")
def plink2() -> str:
    """Path of the ``plink2`` executable; skips where it is not installed."""
    exe = shutil.which("plink2")
    if exe is None:
        pytest.skip("reference test: plink2 not installed (apt-get install plink2; .ci/run does)")
    return exe


@pytest.fixture(scope="session", autouse=True)
def _genotype_cache(tmp_path_factory):
    """Converted VCF/BGEN/.pgen copies go to pytest's folder, not the user's ~/.cache."""
    old = os.environ.get("GENOAPP_CACHE_DIR")
    os.environ["GENOAPP_CACHE_DIR"] = str(tmp_path_factory.mktemp("genoapp_cache"))
    yield
    if old is None:
        os.environ.pop("GENOAPP_CACHE_DIR", None)
    else:
        os.environ["GENOAPP_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _test_data_roots(tmp_path_factory):
    """Tests write their cohorts under pytest's temporary folder: allow it (and ../shared/data)
    as server data roots, as a lab would list its data folders in GENOAPP_DATA_ROOTS."""
    base = tmp_path_factory.getbasetemp()
    extra = [f"pytest={base}"]
    if SHARED_DATA.is_dir():
        extra.append(f"shared={SHARED_DATA}")
    old = os.environ.get("GENOAPP_DATA_ROOTS")
    os.environ["GENOAPP_DATA_ROOTS"] = os.pathsep.join(([old] if old else []) + extra)
    yield
    if old is None:
        os.environ.pop("GENOAPP_DATA_ROOTS", None)
    else:
        os.environ["GENOAPP_DATA_ROOTS"] = old


@pytest.fixture(scope="session")
def local2():
    """A 2-worker Dask LocalCluster (one thread per worker) shared by the session's scale-out
    tests; each test makes it current with ``use_executor(local2)`` (issue 18)."""
    from genoapp.execution import open_executor

    with open_executor("local:2") as ex:
        yield ex


@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """torch at one thread, as on each Dask worker (OMP_NUM_THREADS=1): another thread count
    changes a torch fit's floating-point sums (test AUC by ~1e-4), so in-process references
    of torch results compared with a cluster run use one thread too."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread_module():
    """torch at one thread for a whole test module (``pytestmark = pytest.mark.usefixtures(
    "one_torch_thread_module")``): small networks are as fast on one thread and immune to
    OpenMP spin-waits and oversubscription on the shared 2-core machine."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="session")
def demo_gene_pca():
    """The demo cohort's Gene-PCA FeatureSet (light QC, balanced 10 % test split, seed 0)."""
    from genoapp.demo import demo_gene_pca_features

    return demo_gene_pca_features()
