"""Teaching lessons with a known truth (the app's Learn page).

* :mod:`genoapp.learn.sequences`: simulated DNA sequences with a quantitative phenotype and its
  truth (the thesis' practical example, seeded), CSV loading, one-hot encoding (A, C, G, T),
  leak-free split and standardisation.
* :mod:`genoapp.learn.lesson`: the sequence-to-phenotype lesson end to end (thesis CNN, test
  scores, saliency, in-silico mutagenesis).
"""

from genoapp.learn.lesson import LessonConfig, LessonResult, run_sequence_lesson
from genoapp.learn.sequences import (
    NUCLEOTIDES,
    EpistaticTerm,
    PreparedSequences,
    SequenceData,
    SequenceTruth,
    one_hot,
    prepare_sequences,
    read_sequence_csv,
    simulate_sequences,
)

__all__ = [
    "NUCLEOTIDES",
    "EpistaticTerm",
    "SequenceTruth",
    "SequenceData",
    "PreparedSequences",
    "simulate_sequences",
    "read_sequence_csv",
    "one_hot",
    "prepare_sequences",
    "LessonConfig",
    "LessonResult",
    "run_sequence_lesson",
]
