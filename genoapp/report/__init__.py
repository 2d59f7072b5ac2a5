"""Sharing: self-contained HTML reports of saved runs."""

from genoapp.report.html import methods_paragraph, run_report_html

__all__ = ["methods_paragraph", "run_report_html"]
