"""Learn page: teaching lessons with a known truth, one tab per lesson.

Add a lesson by writing a ``render`` function (widgets keyed with a lesson prefix, state under
``genoapp_learn_<lesson>_*``, no ``st.stop()``) and listing it in ``LESSONS``. All computation
lives in ``genoapp.learn`` / ``genoapp.interpret`` / ``genoapp.plots``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import streamlit as st

from genoapp.errors import InputDataError
from genoapp.io.roots import ENV_VAR, describe_roots, resolve_data_path
from genoapp.learn import (
    LessonConfig,
    prepare_sequences,
    read_sequence_csv,
    run_sequence_lesson,
    simulate_sequences,
)
from genoapp.learn.casecontrol import (
    distribution_lesson,
    leakage_lesson,
    noise_phenotype,
    overfitting_lesson,
)
from genoapp.learn.epistasis import additive_vs_epistatic_lesson
from genoapp.learn.relatedness import relatedness_lesson
from genoapp.plots.learn import (
    error_histogram,
    grouped_bars,
    leakage_figure,
    loss_curves,
    one_hot_figure,
    phenotype_histograms,
    position_scores_bar,
    predicted_vs_observed,
    sequence_logo,
    split_comparison_figure,
)
from genoapp.plots.training import training_curves
from genoapp.train import device_description, resolve_device
from genoapp.ui import settings
from genoapp.ui.errors import guard
from genoapp.ui.progress import ProgressSink
from genoapp.ui.widgets import download_csv, figure

_SEQ = "genoapp_learn_seq_"  # session-state prefix of the sequence lesson


def _live_loss(n_epochs: int) -> ProgressSink:
    """Bar and live loss curves for the lesson's CNN."""
    return ProgressSink("CNN", n_epochs=n_epochs, curves=lambda df: loss_curves(df.to_dict("records")),
                        describe=lambda e, logs: f"epoch {e}/{n_epochs} (early stopping may end "
                                                 f"sooner), training MSE {logs['train_loss']:.4f}, "
                                                 f"validation MSE {logs.get('val_loss', float('nan')):.4f}")


def _get(name: str):
    return st.session_state.get(_SEQ + name)


def _put(name: str, value) -> None:
    """Store a step of the lesson and clear the later ones (data -> prepared -> result)."""
    order = ("data", "prepared", "result")
    for later in order[order.index(name) + 1:]:
        st.session_state.pop(_SEQ + later, None)
    st.session_state[_SEQ + name] = value


def _parse_loci(text: str, length: int) -> np.ndarray | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        loci = np.array(sorted({int(v) for v in text.replace(";", ",").split(",") if v.strip()}))
    except ValueError:
        raise InputDataError(
            f"Known causal loci: {text!r} is not a comma-separated list of whole numbers "
            "(0-based positions, e.g. 52, 61, 71)."
        ) from None
    if loci.size and (loci.min() < 0 or loci.max() >= length):
        raise InputDataError(
            f"Known causal loci: positions must be in 0..{length - 1} for {length}-bp "
            f"sequences; got {loci.min()}..{loci.max()}."
        )
    return loci


def _data_section() -> None:
    st.subheader("1. Sequences with a known truth")
    source = st.radio("Data", ["Simulate (seeded)", "CSV on the server", "Upload a CSV"],
                      horizontal=True, key="learn_seq_source",
                      help="CSV format: columns 'sequences' (equal-length A/C/G/T strings) and "
                           "'phenotypes' (numbers), as in the thesis' sequences_data.csv.")
    if source == "Simulate (seeded)":
        with st.form("learn_seq_sim_form"):
            c1, c2, c3, c4 = st.columns(4)
            n = c1.number_input("Sequences", 100, 20000, 9000, 500, key="learn_seq_n",
                                help="The thesis used 9,000 (lesson range 8,000-10,000).")
            length = c2.number_input("Length (bp)", 20, 1000, 200, 10, key="learn_seq_length",
                                     help="The thesis used 200 (lesson range 200-350).")
            n_causal = c3.number_input("Causal loci", 1, 50, 16, key="learn_seq_causal",
                                       help="Thesis: 16 (lesson range 10-25).")
            env = c4.number_input("Environment E, effect U(-E, E)", 0.0, 50.0, 2.0, 0.5,
                                  key="learn_seq_env")
            d1, d2, d3, d4 = st.columns(4)
            pairs = d1.number_input("Pairwise epistatic terms", 0, 12, 3, key="learn_seq_pairs")
            triples = d2.number_input("Three-way terms", 0, 8, 1, key="learn_seq_triples")
            seed = settings.seed()
            ratio = d4.checkbox("Add the original's ratio term", value=False, key="learn_seq_ratio",
                                help="c·e[a]/e[b]: explodes when e[b] is near 0 (unstable).")
            go = st.form_submit_button("Simulate", key="learn_seq_simulate")
        if ratio:
            st.warning("The ratio term c·e[a]/e[b] is unstable: when e[b] is close to 0 a few "
                       "sequences get extreme phenotypes that dominate the MSE. It is here to "
                       "show that problem, not as a sensible default.", icon=":material/warning:")
        if go or _get("data") is None:
            with guard("Simulating sequences"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # shown above as st.warning
                    data = simulate_sequences(
                        int(n), length=int(length), n_causal=int(n_causal), n_pairs=int(pairs),
                        n_triples=int(triples), ratio_term=bool(ratio), environment=float(env),
                        random_state=int(seed))
                _put("data", {"data": data, "causal": None})
    else:
        if source == "CSV on the server":
            path = st.text_input("Path of the CSV", key="learn_seq_path",
                                 placeholder="~/genoapp_data/sequences_data.csv")
            with guard("Reading the allowed data folders"):
                st.caption(f"Only files inside these server folders can be read: "
                           f"{describe_roots()} (a path may be written relative to one, e.g. "
                           f"`data:sequences_data.csv`). Ask the administrator to add a folder "
                           f"to `{ENV_VAR}`, or upload the CSV instead.")
            upload = None
        else:
            upload = st.file_uploader("CSV with columns sequences, phenotypes", type=["csv"],
                                      key="learn_seq_upload")
            path = ""
        loci_text = st.text_input("Known causal loci (optional, 0-based, comma-separated)",
                                  key="learn_seq_known",
                                  help="Marks them in the interpretation plots and counts how "
                                       "many the model recovers.")
        if st.button("Load", key="learn_seq_load"):
            with guard("Loading the sequences"):
                if upload is not None:
                    data = read_sequence_csv(upload.getvalue(), name=upload.name)
                elif path.strip():
                    # confined to the data roots before anything is opened
                    data = read_sequence_csv(resolve_data_path(path.strip(), what="sequence CSV"))
                else:
                    raise InputDataError("No file: give a server path or upload a CSV first.")
                _put("data", {"data": data, "causal": _parse_loci(loci_text, data.length)})

    stored = _get("data")
    if stored is None:
        return
    data = stored["data"]
    st.success(f"{data.n_sequences:,} sequences of {data.length} bp ({data.source}); phenotype "
               f"mean {data.phenotypes.mean():.2f}, SD {data.phenotypes.std(ddof=1):.2f}.")
    truth = data.truth
    if truth is not None:
        with st.expander("The truth (what interpretation should find)", expanded=False):
            st.caption(f"Reference sequence ({truth.length} bp); every sequence is this one "
                       f"with 0-{truth.parameters['max_mutations']} point mutations, placed "
                       f"{truth.parameters['causal_weight']:g}x more often at causal loci.")
            st.code(truth.reference, language="text", wrap_lines=True)
            st.dataframe(truth.loci_table().style.format(precision=2), hide_index=True)
            if truth.epistasis:
                st.dataframe(truth.epistasis_table().style.format(precision=3), hide_index=True)
            download_csv(truth.loci_table(), "causal_loci_truth.csv", key="learn_seq_dl_truth")
    st.dataframe(data.to_frame().head(5), hide_index=True)
    download_csv(data.to_frame(), "sequences_data.csv", key="learn_seq_dl_data")


def _split_section():
    stored = _get("data")
    if stored is None:
        return None
    data = stored["data"]
    st.subheader("2. One-hot encoding and a leak-free split")
    st.markdown(
        "Each sequence becomes an L × 4 matrix with the columns **A, C, G, T in a fixed order** "
        "(the thesis refitted its encoder on every sequence, so a sequence lacking a nucleotide "
        "got shifted columns). The data are **split first**; the phenotype is then standardised "
        "with the **training set's** mean and SD only (the thesis standardised all phenotypes "
        "before splitting, which lets the test values into the scaler).")
    c1, c2, c3 = st.columns(3)
    tf = c1.number_input("Test fraction", 0.05, 0.5, 0.2, 0.05, key="learn_seq_test_fraction")
    vf = c2.number_input("Validation fraction of the training set", 0.05, 0.5, 0.2, 0.05,
                         key="learn_seq_val_fraction", help="For early stopping (never the test set).")
    split_seed = settings.seed()
    fingerprint = (id(data), float(tf), float(vf), int(split_seed))
    prep = _get("prepared")
    if prep is None or prep["fingerprint"] != fingerprint:
        with guard("Encoding and splitting"):
            _put("prepared", {"fingerprint": fingerprint,
                              "prepared": prepare_sequences(data, test_fraction=float(tf),
                                                            validation_fraction=float(vf),
                                                            random_state=int(split_seed))})
    prep = _get("prepared")
    if prep is None:
        return None
    p = prep["prepared"]
    figure(one_hot_figure(str(data.sequences[0]), p.X[0]), key="learn_seq_onehot")
    c1, c2 = st.columns([2, 3])
    with c1:
        st.dataframe(p.split_table().style.format(precision=3), hide_index=True)
        sd = float(p.scaler.scale_[0])
        st.caption(f"Scaler fitted on the {p.training_idx.size:,} training-set phenotypes "
                   f"only: mean {p.scaler.mean_[0]:.3f}, SD {sd:.3f}. KS test training vs "
                   f"test: D = {p.ks_statistic:.3f}, p = {p.ks_pvalue:.3g} "
                   f"({'no evidence the sets differ' if p.ks_pvalue >= 0.05 else 'the sets differ'}).")
    with c2:
        figure(phenotype_histograms({"all": p.y, "training": p.y[p.training_idx],
                                     "test": p.y[p.test_idx]}, ks_statistic=p.ks_statistic,
                                    ks_pvalue=p.ks_pvalue), key="learn_seq_hist")
    return p


def _train_section(p) -> None:
    st.subheader("3. The thesis' CNN")
    st.markdown(
        "Conv1D (256 filters, kernel 3, **no activation** as in the thesis; ReLU offered) → "
        "max-pool 4 → Dense 32 ReLU → dropout 0.05 → Dense 8 softplus → Dense 32 ReLU → "
        "Dense 1; MSE, Adam, early stopping on the validation loss (best weights restored).")
    defaults = LessonConfig()
    with st.form("learn_seq_train_form"):
        c1, c2, c3, c4 = st.columns(4)
        act = c1.radio("Convolution activation", ["linear", "relu"], key="learn_seq_act",
                       format_func=lambda v: {"linear": "none (thesis)", "relu": "ReLU"}[v])
        epochs = c2.number_input("Max epochs", 1, 500, defaults.epochs, key="learn_seq_epochs")
        batch = c3.number_input("Batch size", 8, 1024, defaults.batch_size, key="learn_seq_batch")
        lr = c4.number_input("Learning rate (Adam)", 1e-5, 1e-1, defaults.learning_rate,
                             format="%.0e", key="learn_seq_lr")
        d1, d2, d3, d4 = st.columns(4)
        patience = d1.number_input("Early-stopping patience", 1, 100, defaults.patience,
                                   key="learn_seq_patience")
        n_ism = d2.number_input("Sequences for in-silico mutagenesis", 1, 20000, defaults.n_ism,
                                key="learn_seq_n_ism", help="Training sequences; 3 L mutants each.")
        device = settings.device()
        seed = settings.seed()
        submitted = st.form_submit_button("Train and interpret", type="primary", key="learn_seq_train")
    if submitted:
        with guard("Training the CNN"):
            dev = resolve_device(device)
            st.caption(f"Device: {device_description(dev)}")
            config = LessonConfig(conv_activation=act, epochs=int(epochs), batch_size=int(batch),
                                  learning_rate=float(lr), patience=int(patience),
                                  n_ism=int(n_ism), device=device, random_state=int(seed))
            result = run_sequence_lesson(p, config=config, callbacks=[_live_loss(int(epochs))],
                                         causal_loci=_get("data")["causal"])
            _put("result", result)


def _results_section() -> None:
    r = _get("result")
    if r is None:
        return
    st.subheader("4. Results on the test set")
    st.caption(f"Trained on {r.model.device_} in {r.seconds['train']:.0f} s; saliency "
               f"{r.seconds['saliency']:.1f} s, in-silico mutagenesis {r.seconds['ism']:.1f} s "
               f"({r.ism_rows.size} sequences).")
    c1, c2 = st.columns([1, 2])
    with c1:
        table = r.metrics_table()
        table["value"] = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in table["value"]]
        st.dataframe(table, hide_index=True)
    with c2:
        figure(loss_curves(r.history, best_epoch=r.metrics["best_epoch"]), key="learn_seq_loss")
    c1, c2 = st.columns(2)
    with c1:
        figure(predicted_vs_observed(r.y_test, r.y_pred, r2=r.metrics["r2"],
                                     mse=r.metrics["mse_original"]), key="learn_seq_scatter")
    with c2:
        figure(error_histogram(r.y_test, r.y_pred), key="learn_seq_errors")
    preds = pd.DataFrame({"row": r.prepared.test_idx, "observed": r.y_test, "predicted": r.y_pred})
    download_csv(preds, "test_predictions.csv", key="learn_seq_dl_pred")
    download_csv(r.history, "learn_training_history.csv", key="learn_seq_dl_hist")

    st.subheader("5. Which positions does the model use?")
    st.markdown(
        "**Gradient saliency**: mean |∂ŷ/∂x| over the 4 one-hot columns, averaged over the "
        "training sequences. **In-silico mutagenesis**: every position of "
        f"{r.ism_rows.size} training sequences changed to each of the 3 other nucleotides; "
        "mean |change of the prediction| (phenotype units). Red bars: true causal loci.")
    rec = r.recovery_table()
    if rec is not None:
        k = int(rec["top_k"].iloc[0])
        st.info(f"Among the top {k} positions: saliency finds "
                f"**{int(rec['causal_found'].iloc[0])}**, in-silico mutagenesis "
                f"**{int(rec['causal_found'].iloc[1])}** of the {int(rec['n_causal'].iloc[0])} "
                f"true causal loci; a random ranking would find "
                f"{float(rec['random_expectation'].iloc[0]):.2f} on average.")
        st.dataframe(rec.style.format({"random_expectation": "{:.2f}", "p_value": "{:.2g}"}),
                     hide_index=True)
    causal = r.causal
    figure(position_scores_bar(r.saliency, causal=causal, top=r.config.top,
                               title="Gradient saliency", yaxis_title="mean |∂ŷ/∂x|"),
           key="learn_seq_saliency")
    figure(position_scores_bar(r.ism, causal=causal, top=r.config.top,
                               title="In-silico mutagenesis",
                               yaxis_title="mean |Δ prediction| (phenotype units)"),
           key="learn_seq_ism")
    st.markdown(f"**Top {r.config.top} positions** (by saliency, plus those in the top "
                f"{r.config.top} by mutagenesis):")
    st.dataframe(r.table.style.format({"saliency": "{:.4f}", "ism": "{:.3f}"}), hide_index=True)
    scores = pd.DataFrame({"position": np.arange(r.saliency.size), "saliency": r.saliency,
                           "ism": r.ism})
    if causal is not None:
        scores["causal"] = np.isin(scores["position"], causal)
    download_csv(scores, "position_scores.csv", key="learn_seq_dl_scores")

    top = np.sort(np.argsort(-r.ism, kind="stable")[: r.config.top])
    figure(sequence_logo(r.logo.loc[top], causal=causal,
                         title=f"Model: mean effect of each nucleotide at the top {r.config.top} "
                               "positions (in-silico mutagenesis, centred)",
                         yaxis_title="effect (phenotype units)"), key="learn_seq_logo")
    truth = r.prepared.data.truth
    if truth is not None:
        c1, c2 = st.columns(2)
        with c1:
            figure(sequence_logo(r.logo.loc[truth.causal_loci], causal=causal,
                                 title="Model, at the true causal loci",
                                 yaxis_title="effect (phenotype units)"),
                   key="learn_seq_logo_model_causal")
        with c2:
            figure(sequence_logo(truth.centred_effects(), causal=causal,
                                 title="Truth: additive effects (centred)",
                                 yaxis_title="effect (phenotype units)"),
                   key="learn_seq_logo_truth")
        st.caption("Only differences between nucleotides are identifiable, so both logos are "
                   "centred per position. Epistatic terms make the model's average effects "
                   "differ from the additive truth at the interacting loci.")


def sequence_lesson() -> None:
    """DNA sequences -> one-hot -> CNN -> phenotype -> saliency (the thesis' example, fixed)."""
    st.markdown(
        "The practical example of the thesis *Deep Learning and its Application to Predicting "
        "Quantitative Phenotypes from Genomic Data*, reproduced with its flaws fixed: seeded "
        "simulation, a fixed one-hot column order, split before standardising, and a check of "
        "what interpretation recovers against the known truth.")
    _data_section()
    p = _split_section()
    if p is None:
        return
    _train_section(p)
    _results_section()


@st.cache_data(show_spinner="Reading the demo genotypes")
def _demo_genotypes():
    from genoapp.demo import DEMO_PHENOTYPE, load_demo_cohort

    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    return c.read_dosages(), np.asarray(y, dtype=np.int64)


def _lesson_phenotype(prefix: str, n: int, y_demo):
    choice = st.radio("Phenotype", ["noise", "demo"], horizontal=True, key=f"{prefix}pheno",
                      format_func=lambda v: {"noise": "pure noise (no genetic effect at all)",
                                             "demo": "the demo disease (planted genes)"}[v])
    return (noise_phenotype(n, case_fraction=float(y_demo.mean()), random_state=0) if choice == "noise"
            else y_demo), choice


def leakage_lesson_tab():
    st.markdown(
        "**Leakage: choosing SNPs with the test samples' labels.** A GWAS filter keeps the SNPs "
        "whose allele frequencies differ between cases and controls. Run it on *all* samples "
        "before splitting, and the test cases and controls have helped choose the SNPs: the model "
        "then looks good on them even when the genotypes say nothing about the disease. The "
        "honest protocol runs the GWAS on the training samples only. Below, both protocols use "
        "the same real genotypes (1000 Genomes/HapMap3), the same random balanced splits and the "
        "same logistic regression; only the samples given to the GWAS differ.")
    G, y_demo = _demo_genotypes()
    y, choice = _lesson_phenotype("learn_leak_", len(y_demo), y_demo)
    with st.form("learn_leak_form"):
        c1, c2, c3 = st.columns(3)
        p_thr = c1.select_slider("GWAS p-value threshold", [1e-4, 1e-3, 1e-2, 0.05], value=1e-2,
                                 key="learn_leak_p")
        reps = c2.number_input("Random splits", 1, 20, 5, key="learn_leak_reps")
        seed = settings.seed()
        go = st.form_submit_button("Compare the protocols", type="primary", key="learn_leak_run")
    if go:
        with guard("Leakage lesson"), st.spinner("GWAS and logistic regression on each split"):
            st.session_state["genoapp_learn_leak"] = (choice, leakage_lesson(
                G, y, p_threshold=float(p_thr), n_repeats=int(reps), random_state=int(seed)))
    res = st.session_state.get("genoapp_learn_leak")
    if res is None:
        return
    choice_run, r = res
    s = r.summary.set_index("protocol")
    honest, leaky = s.iloc[0], s.iloc[1]
    c1, c2 = st.columns([3, 2])
    with c1:
        figure(leakage_figure(r.table, metric="test_accuracy"), key="learn_leak_fig")
    with c2:
        st.metric("Test accuracy, honest", f"{honest['test_accuracy']:.3f}")
        st.metric("Test accuracy, leaky", f"{leaky['test_accuracy']:.3f}",
                  delta=f"{leaky['test_accuracy'] - honest['test_accuracy']:+.3f} from leakage",
                  delta_color="inverse")
        st.caption(f"Mean over {len(r.table) // 2} splits; {r.seconds:.1f} s.")
    what = ("There is no genetic effect at all, so any accuracy above 0.5 is an illusion"
            if choice_run == "noise" else "The demo disease has a real but modest genetic signal")
    st.info(f"{what}: the honest protocol gives {honest['test_accuracy']:.2f} (AUC "
            f"{honest['test_roc_auc']:.2f}); the leaky one {leaky['test_accuracy']:.2f} (AUC "
            f"{leaky['test_roc_auc']:.2f}). Fit every data-driven step (GWAS, PCA, scaling, "
            "tuning) on the training samples only; genoapp's QC and Features pages do.")
    st.dataframe(r.table, hide_index=True)
    download_csv(r.table, "leakage_lesson.csv", key="learn_leak_dl")


def overfitting_lesson_tab():
    st.markdown(
        "**Overfitting: memorising the training samples.** With 14,079 SNPs and about 900 "
        "training samples, a neural network can learn every training label by heart. Watch the "
        "two curves: the training loss keeps falling while the validation loss (samples the "
        "network never trains on) stops falling and rises: from there on the network learns noise. "
        "Dropout (randomly silencing units), L2 weight decay (keeping weights small) and early "
        "stopping (keeping the epoch with the lowest validation loss) are the usual remedies.")
    G, y_demo = _demo_genotypes()
    with st.form("learn_over_form"):
        c1, c2, c3, c4 = st.columns(4)
        epochs = c1.number_input("Epochs", 5, 300, 60, key="learn_over_epochs")
        dropout = c2.slider("Dropout", 0.0, 0.9, 0.0, 0.1, key="learn_over_dropout")
        wd = c3.select_slider("L2 weight decay", [0.0, 1e-4, 1e-3, 1e-2, 1e-1], value=0.0,
                              key="learn_over_wd")
        es = c4.checkbox("Early stopping (patience 5)", value=False, key="learn_over_es")
        go = st.form_submit_button("Train", type="primary", key="learn_over_run")
    if go:
        with guard("Overfitting lesson"), st.spinner("Training the network"):
            st.session_state["genoapp_learn_over"] = overfitting_lesson(
                G, y_demo, epochs=int(epochs), dropout=float(dropout), weight_decay=float(wd),
                patience=5 if es else None)
    r = st.session_state.get("genoapp_learn_over")
    if r is None:
        return
    fig = training_curves(r.history)
    fig.add_vline(x=r.best_epoch, line_dash="dot", line_color="grey",
                  annotation_text=f"lowest validation loss: epoch {r.best_epoch}")
    figure(fig, key="learn_over_fig")
    c1, c2, c3 = st.columns(3)
    c1.metric("Training − validation accuracy (last epoch)", f"{r.gap:.2f}")
    c2.metric("Test accuracy (weights of the best epoch)", f"{r.test_accuracy:.3f}")
    c3.metric("Epochs run", f"{r.stopped_epoch}")
    st.info(f"The validation loss was lowest at epoch {r.best_epoch} of {r.stopped_epoch}; after "
            f"that the network fits the training samples better and unseen samples worse (gap "
            f"{r.gap:.2f} in accuracy). Try dropout 0.5 with weight decay 0.01, or early stopping, "
            f"and compare. Trained in {r.seconds:.0f} s on the CPU.")


@st.cache_data(show_spinner=False)
def _demo_groups():
    from genoapp.demo import DEMO_PHENOTYPE, load_demo_cohort

    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    return c.samples["superpopulation"].astype(str).to_numpy()


def distribution_lesson_tab():
    st.markdown(
        "**Train and test should come from the same population.** A random split gives training "
        "and test samples with the same distributions; a test set from a group the model never "
        "saw (here, another continental ancestry of the demo cohort) does not. The first genetic "
        "principal component (fitted on the training samples) shows it, and the two-sample "
        "Kolmogorov-Smirnov test measures it (D = 0: identical distributions). Accuracy measured on "
        "a shifted test set answers a different question (does the model transfer?).")
    G, y = _demo_genotypes()
    groups = _demo_groups()
    with st.form("learn_dist_form"):
        held = st.selectbox("Test set for the second split: every sample of", sorted(set(groups)),
                            index=sorted(set(groups)).index("AFR"), key="learn_dist_group")
        go = st.form_submit_button("Compare the splits", type="primary", key="learn_dist_run")
    if go:
        with guard("Distribution lesson"), st.spinner("PCA, GWAS and logistic regression on both splits"):
            st.session_state["genoapp_learn_dist"] = distribution_lesson(G, y, groups, held_out=held)
    r = st.session_state.get("genoapp_learn_dist")
    if r is None:
        return
    cols = st.columns(2)
    for col, (_, row) in zip(cols, r.splits.iterrows(), strict=True):
        with col:
            figure(phenotype_histograms(r.pc1[row["split"]], ks_statistic=row["ks_pc1"],
                                        ks_pvalue=row["ks_pc1_p"], title=f"PC1, {row['split']} split",
                                        x_title="PC1 (PCA fitted on training samples)"),
                   key=f"learn_dist_{row['split']}")
            st.metric("Test accuracy", f"{row['test_accuracy']:.3f}")
            st.caption(f"ROC AUC {row['test_roc_auc']:.3f}; case fraction {row['case_fraction_train']:.2f} "
                       f"(training) vs {row['case_fraction_test']:.2f} (test).")
    rnd, shf = r.splits.iloc[0], r.splits.iloc[1]
    st.info(f"Random split: KS D = {rnd['ks_pc1']:.2f}, training and test look alike. Test set from "
            f"{r.held_out}: D = {shf['ks_pc1']:.2f}, a different population; the accuracy went from "
            f"{rnd['test_accuracy']:.2f} to {shf['test_accuracy']:.2f}. Always compare training and "
            "test distributions (genotype PCs, phenotype, batches) before trusting a test score.")
    st.dataframe(r.splits, hide_index=True)


def relatedness_lesson_tab():
    st.markdown(
        "**Relatives across the split.** Siblings share half their genome, so a model can predict "
        "a test sample's trait from its sibling in the training set without learning anything "
        "that transfers to unrelated people. Here genoapp simulates full-sib families (genotypes "
        "with LD on real gene positions, Mendelian transmission) and a polygenic trait, then "
        "compares a random split with a split that keeps whole families together. The "
        "relatedness check (genomic relationship of each test sample with its closest training "
        "sample: about 0.5 for siblings) shows why.")
    with st.form("learn_rel_form"):
        c1, c2, c3 = st.columns(3)
        n_fam = c1.number_input("Families", 20, 400, 150, 10, key="learn_rel_fam")
        h2 = c2.slider("Heritability h²", 0.1, 0.9, 0.6, 0.05, key="learn_rel_h2")
        seed = settings.seed()
        go = st.form_submit_button("Simulate and compare", type="primary", key="learn_rel_run")
    if go:
        with guard("Relatedness lesson"), st.spinner("Simulating families and fitting ridge regressions"):
            st.session_state["genoapp_learn_rel"] = relatedness_lesson(
                n_families=int(n_fam), h2=float(h2), random_state=int(seed))
    r = st.session_state.get("genoapp_learn_rel")
    if r is None:
        return
    c1, c2 = st.columns(2)
    with c1:
        figure(split_comparison_figure(r.table, by="split", metric="pearson_r", label="Pearson r (test)",
                                       title="Prediction accuracy by split"), key="learn_rel_fig")
    with c2:
        figure(phenotype_histograms({f"{k} split": v for k, v in r.max_relationship.items()},
                                    title="Closest training relative of each test sample",
                                    x_title="largest genomic relationship with a training sample"),
               key="learn_rel_hist")
    m = r.table.groupby("split", sort=False).mean(numeric_only=True)
    st.info(f"{r.n_samples} samples in {r.n_families} families, {r.n_snps:,} SNPs, realised h² "
            f"{r.h2:.2f}. Random split: r = {m.loc['random', 'pearson_r']:.2f}, with "
            f"{m.loc['random', 'test_with_relative']:.0%} of test samples having a sibling in training. "
            f"Split by family: r = {m.loc['by family', 'pearson_r']:.2f}, no relatives across the split. "
            "Check relatedness (e.g. with a GRM or KING) and keep relatives on one side of the split.")
    st.dataframe(r.table, hide_index=True)


def epistasis_lesson_tab():
    st.markdown(
        "**Additive vs epistatic traits.** In an additive trait every causal gene adds its bit of "
        "risk, so a linear model (logistic regression) captures it. In an epistatic trait risk "
        "comes from *combinations*: a gene matters only together with its partner, and neither has "
        "an effect on its own; a linear model cannot see that, a neural network can. genoapp "
        "simulates both traits on the same simulated genotypes and trains both models on the same "
        "samples.")
    with st.form("learn_epi_form"):
        c1, c2, c3 = st.columns(3)
        n = c1.number_input("Samples", 1000, 20_000, 5000, 500, key="learn_epi_n")
        h2 = c2.slider("Heritability h² (liability)", 0.3, 0.95, 0.9, 0.05, key="learn_epi_h2")
        seed = settings.seed()
        go = st.form_submit_button("Simulate and train", type="primary", key="learn_epi_run")
    if go:
        with guard("Additive vs epistatic lesson"), st.spinner("Simulating and training both models"):
            st.session_state["genoapp_learn_epi"] = additive_vs_epistatic_lesson(
                n_samples=int(n), h2=float(h2), random_state=int(seed))
    r = st.session_state.get("genoapp_learn_epi")
    if r is None:
        return
    figure(grouped_bars(r.table, x="trait", color="model", y="test_roc_auc", y_title="test ROC AUC",
                        title="Which model learns which trait?", chance=0.5), key="learn_epi_fig")
    t = r.table.set_index(["trait", "model"])["test_roc_auc"]
    st.info(f"Additive trait: logistic regression AUC {t['additive', 'Logistic regression']:.2f}, "
            f"network {t['additive', 'Neural network']:.2f}. Epistatic trait: logistic regression "
            f"{t['epistatic', 'Logistic regression']:.2f} (near chance), network "
            f"{t['epistatic', 'Neural network']:.2f}. {r.n_samples:,} samples, {r.n_snps} SNPs; "
            f"{r.seconds:.0f} s.")
    with st.expander("Planted genes (the truth)"):
        for trait, truth in r.truth.items():
            st.markdown(f"*{trait}*")
            st.dataframe(truth, hide_index=True)


LESSONS = {"Sequence → phenotype (CNN)": sequence_lesson,
           "Leakage": leakage_lesson_tab,
           "Overfitting": overfitting_lesson_tab,
           "Train vs test distributions": distribution_lesson_tab,
           "Relatives": relatedness_lesson_tab,
           "Additive vs epistatic": epistasis_lesson_tab}

st.title("Learn")
for tab, render in zip(st.tabs(list(LESSONS)), LESSONS.values(), strict=True):
    with tab:
        render()
