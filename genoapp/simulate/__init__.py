"""Phenotypes with a known truth, simulated on real genotypes (DESIGN §4.6).

The demo cohort of the app is built by :func:`genoapp.simulate.casecontrol.simulate_case_control`
on the 1000 Genomes + HapMap3 genotypes shipped in ``assets/demo`` (see ``assets/demo/README.md``).
:mod:`genoapp.simulate.genotypes` simulates genotypes with LD on real gene coordinates (and
pedigrees with Mendelian transmission); :mod:`genoapp.simulate.traits` simulates binary
(liability-threshold, with batch ascertainment) and correlated quantitative traits on them.
"""

from genoapp.simulate.casecontrol import CaseControlSimulation, simulate_case_control
from genoapp.simulate.genotypes import (
    SimulatedGenotypes,
    SimulatedPedigree,
    simulate_genotypes,
    simulate_pedigree_genotypes,
)
from genoapp.simulate.traits import (
    BinaryTraitSimulation,
    QuantitativeTraitSimulation,
    simulate_binary_trait,
    simulate_quantitative_traits,
)

__all__ = [
    "BinaryTraitSimulation",
    "CaseControlSimulation",
    "QuantitativeTraitSimulation",
    "SimulatedGenotypes",
    "SimulatedPedigree",
    "simulate_binary_trait",
    "simulate_case_control",
    "simulate_genotypes",
    "simulate_pedigree_genotypes",
    "simulate_quantitative_traits",
]
