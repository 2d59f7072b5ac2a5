"""Phenotypes with a known truth, simulated on real genotypes (DESIGN §4.6).

The demo cohort of the app is built by :func:`genoapp.simulate.casecontrol.simulate_case_control`
on the 1000 Genomes + HapMap3 genotypes shipped in ``assets/demo`` (see ``assets/demo/README.md``).
"""

from genoapp.simulate.casecontrol import CaseControlSimulation, simulate_case_control

__all__ = ["CaseControlSimulation", "simulate_case_control"]
