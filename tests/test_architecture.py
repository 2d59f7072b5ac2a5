"""Architecture rules: the back-end never imports streamlit."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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
