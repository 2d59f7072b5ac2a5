"""Architecture rules: the back-end never imports streamlit; no import cycle; layers only import
downwards; public functions follow scanpy's conventions (data first, at most three positional
parameters, ``random_state`` on everything stochastic)."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "genoapp"

#: Layers, lowest first. A module may import from its own layer (without cycles) and from
#: lower layers only: io -> qc -> features -> models -> train engine -> interpret -> workflows
#: -> runs/report -> ui. The device choice is base; the torch loop and the callbacks belong to
#: the estimator base in ``models``; ``train`` holds the splits and re-exports the engine.
LAYERS = [
    ("base", ["genoapp", "genoapp.errors", "genoapp.logs", "genoapp.fileio", "genoapp.execution",
              "genoapp.device"]),
    ("io", ["genoapp.io", "genoapp.cohort", "genoapp.metrics", "genoapp.simulate"]),
    ("qc", ["genoapp.qc"]),
    ("features", ["genoapp.features"]),
    ("models", ["genoapp.models"]),
    ("train", ["genoapp.train"]),
    ("interpret", ["genoapp.interpret"]),
    ("workflows", ["genoapp.workflows", "genoapp.demo", "genoapp.learn", "genoapp.plots"]),
    ("runs/report", ["genoapp.runs", "genoapp.report"]),
    ("ui", ["genoapp.ui", "genoapp.__main__"]),
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> dict[str, Path]:
    mods = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> genoapp modules it imports, imports inside functions included."""
    mods = _modules()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    graph = {}
    for m, p in mods.items():
        is_pkg = p.name == "__init__.py"
        deps = set()
        for node in ast.walk(ast.parse(p.read_text(), filename=str(p))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.split(".") if is_pkg else m.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # "from pkg import sub" depends on the submodule when sub is one
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names
                                   if f"{mod}.{a.name}" in mods]
                if any(f"{mod}.{a.name}" in mods for a in node.names) and \
                        all(f"{mod}.{a.name}" in mods for a in node.names):
                    targets = targets[1:]
            for t in targets:
                if t.startswith("genoapp"):
                    r = resolve(t)
                    if r and r != m:
                        deps.add(r)
        graph[m] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (module == pre or module.startswith(pre + ".")) and len(pre) > best:
                best, rank = len(pre), i
    assert rank is not None, f"{module} belongs to no layer: add it to LAYERS"
    return rank


def test_no_import_cycle_inside_genoapp():
    cycles = _cycles(import_graph())
    assert cycles == [], f"import cycles (imports inside functions included): {cycles}"


def test_layers_only_import_downwards():
    bad = []
    for m, deps in import_graph().items():
        for d in deps:
            if _layer(d) > _layer(m):
                bad.append(f"{m} ({LAYERS[_layer(m)][0]}) imports {d} ({LAYERS[_layer(d)][0]})")
    assert bad == [], "imports from a lower layer to a higher one:\n" + "\n".join(sorted(bad))


def test_checkers_detect_a_cycle_and_a_back_edge():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _layer("genoapp.qc.funnel") < _layer("genoapp.workflows.protocol")
    assert _layer("genoapp.models.capsnet") < _layer("genoapp.train.splits")
    assert _layer("genoapp.device") < _layer("genoapp.models.training")


# -------------------------------------------------------------------------- scanpy rules
#: Numeric kernels whose positional arguments are the cells of one table (PLINK's fisher22).
POSITIONAL_EXEMPT = {"genoapp.qc.exact.fisher_exact_2x2"}
_STOCHASTIC = ("default_rng(", "np.random.", "manual_seed(", "RandomState(", ".permutation(")


def _public_functions():
    for m, p in _modules().items():
        parts = m.split(".")
        if any(x.startswith("_") for x in parts[1:]) or m.startswith("genoapp.ui"):
            continue
        tree = ast.parse(p.read_text(), filename=str(p))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield f"{m}.{node.name}", node, False
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for f in node.body:
                    if isinstance(f, ast.FunctionDef) and (not f.name.startswith("_")
                                                           or f.name == "__init__"):
                        yield f"{m}.{node.name}.{f.name}", f, True


def test_public_functions_take_at_most_three_positional_parameters():
    bad = []
    for name, f, method in _public_functions():
        pos = [a.arg for a in f.args.posonlyargs + f.args.args]
        if method and pos and pos[0] in ("self", "cls"):
            pos = pos[1:]
        if len(pos) > 3 and name not in POSITIONAL_EXEMPT:
            bad.append(f"{name}({', '.join(pos)})")
    assert bad == [], "make the options keyword-only (data first, at most three positional):\n" \
        + "\n".join(bad)


def test_stochastic_public_functions_take_random_state():
    bad = []
    for name, f, method in _public_functions():
        if method and not name.endswith(".__init__"):
            continue  # estimators: the constructor takes random_state, methods use it
        names = {a.arg for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs}
        src = ast.unparse(f)
        if any(t in src for t in _STOCHASTIC) and not names & {"random_state", "rng", "config"}:
            bad.append(name)
    assert bad == [], "stochastic functions without random_state:\n" + "\n".join(bad)


# -------------------------------------------------------------------------- streamlit
def test_backend_files_do_not_import_streamlit():
    offenders = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / "genoapp").rglob("*.py"))
        if "ui" not in p.relative_to(REPO / "genoapp").parts[:1] and "streamlit" in _imports(p)
    ]
    assert offenders == [], f"only genoapp/ui, pages/ and app.py may import streamlit: {offenders}"


def test_importing_the_backend_does_not_load_streamlit():
    code = (
        "import sys, pkgutil, importlib, genoapp\n"
        "for m in pkgutil.walk_packages(genoapp.__path__, 'genoapp.'):\n"
        "    if not m.name.startswith('genoapp.ui'):\n"
        "        importlib.import_module(m.name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_checker_detects_a_streamlit_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from streamlit import session_state\n")
    assert "streamlit" in _imports(bad)


def test_one_definition_of_each_shared_piece():
    """One protocol, one registry, one run writer, one presets source, one atomic write."""
    defs: dict[str, list[str]] = {}
    for p in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), filename=str(p))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defs.setdefault(node.name, []).append(str(p.relative_to(REPO)))
    for name in ("run_protocol", "ModelSpec", "ProtocolResult", "model_specs", "save_run",
                 "protocol_config", "atomic_path", "atomic_write"):
        assert len(defs.get(name, [])) == 1, f"{name} defined in {defs.get(name)}"
    replaces = [str(p.relative_to(REPO)) for p in sorted(PKG.rglob("*.py"))
                if "os.replace(" in p.read_text()]
    assert replaces == ["genoapp/fileio.py"], f"atomic renames outside genoapp/fileio.py: {replaces}"
    for gone in ("pipeline.py", "quantitative.py", "runconfig.py"):
        assert not (PKG / gone).exists(), f"genoapp/{gone} should not exist at the top level"
