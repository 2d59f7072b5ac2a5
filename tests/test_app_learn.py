"""AppTest of the Learn page (run directly from pages/learn.py, so it works before app.py lists it)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from genoapp.learn import simulate_sequences

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "learn.py")


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _fresh() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _ok(at)
    return at


def test_learn_page_simulates_splits_trains_and_interprets():
    at = _fresh()
    assert at.title[0].value == "Learn"
    # opens on genoapp's own seeded simulation with the thesis' design
    assert any("9,000 sequences of 200 bp (simulated (seed 0))" in s.value for s in at.success)
    assert at.session_state["genoapp_learn_seq_data"]["data"].truth.causal_loci.size == 16
    # a small simulation for a fast test
    at.number_input(key="learn_seq_n").set_value(600)
    at.number_input(key="learn_seq_length").set_value(40)
    at.number_input(key="learn_seq_causal").set_value(4)
    at.number_input(key="learn_seq_pairs").set_value(1)
    at.number_input(key="learn_seq_triples").set_value(0)
    at.button(key="learn_seq_simulate").click().run()
    _ok(at)
    assert any("600 sequences of 40 bp" in s.value for s in at.success)
    prepared = at.session_state["genoapp_learn_seq_prepared"]["prepared"]
    assert prepared.test_idx.size == 120
    captions = "\n".join(c.value for c in at.caption)
    assert "Scaler fitted on the 480 training-set phenotypes only" in captions
    assert len(at.get("plotly_chart")) == 2  # one-hot matrix and phenotype histograms

    at.number_input(key="learn_seq_epochs").set_value(2)
    at.number_input(key="learn_seq_n_ism").set_value(5)
    at.session_state["genoapp_device"] = "cpu"  # the sidebar setting (the page runs alone here)
    at.button(key="learn_seq_train").click().run()
    _ok(at)
    result = at.session_state["genoapp_learn_seq_result"]
    assert result.metrics["epochs_run"] <= 2 and result.ism_rows.size == 5
    texts = "\n".join(i.value for i in at.info)
    assert "true causal loci; a random ranking would find 0.40 on average" in texts
    # one-hot, histograms, loss, scatter, errors, saliency, ISM, 3 logos (+ live curves)
    assert len(at.get("plotly_chart")) >= 11
    assert at.dataframe[-1].value.shape[0] >= 20  # the top-20 table
    # changing the split clears the trained result (no stale numbers)
    at.number_input(key="learn_seq_test_fraction").set_value(0.25).run()
    _ok(at)
    assert "genoapp_learn_seq_result" not in at.session_state


def test_learn_page_loads_a_csv_from_the_server_and_reports_bad_input(tmp_path):
    data = simulate_sequences(200, length=30, n_causal=3, n_pairs=1, n_triples=0, random_state=2)
    path = tmp_path / "my_sequences.csv"
    data.to_frame().to_csv(path, index=False)
    at = _fresh()
    at.radio(key="learn_seq_source").set_value("CSV on the server").run()
    _ok(at)
    at.text_input(key="learn_seq_path").input(str(path))
    at.text_input(key="learn_seq_known").input(", ".join(str(v) for v in data.truth.causal_loci))
    at.button(key="learn_seq_load").click().run()
    _ok(at)
    assert any("200 sequences of 30 bp (my_sequences.csv)" in s.value for s in at.success)
    stored = at.session_state["genoapp_learn_seq_data"]
    assert stored["data"].truth is None
    assert stored["causal"].tolist() == data.truth.causal_loci.tolist()
    # a missing file and bad loci give readable errors, never a traceback
    at.text_input(key="learn_seq_path").input(str(tmp_path / "absent.csv"))
    at.button(key="learn_seq_load").click().run()
    assert not at.exception
    assert at.error and "absent.csv: file not found" in at.error[0].value
    at.text_input(key="learn_seq_path").input(str(path))
    at.text_input(key="learn_seq_known").input("3, x")
    at.button(key="learn_seq_load").click().run()
    assert not at.exception
    assert at.error and "Known causal loci" in at.error[0].value
