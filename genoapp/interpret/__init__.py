"""Interpretation of trained models: coupling-coefficient summaries (DESIGN §4.4)."""

from genoapp.interpret.coupling import mean_coupling_by_label, strongest_case_type

__all__ = ["mean_coupling_by_label", "strongest_case_type"]
