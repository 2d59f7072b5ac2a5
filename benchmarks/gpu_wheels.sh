#!/usr/bin/env bash
# Download the wheels the GPU machine lacks (it has no network; its Python is 3.12 with torch,
# numpy, pandas, scipy, scikit-learn, statsmodels and numba). Run here, in the repository root;
# the folder .whl is ignored by git and travels with the device run (carry: [".whl"]), where
# benchmarks/gpu_check.py installs it into a private folder first.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
for pkg in bed-reader==1.1.0 optuna==5.0.0 alembic colorlog sqlalchemy mako greenlet \
           dcor==0.7 kneed==0.9.0 pygad==3.9.2 lassonet==0.0.21; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${plat[@]}" -d .whl "$pkg" || echo "could not fetch $pkg"
done
ls -1 .whl
