"""Offline evaluation and reports from the store: lift per arm, reach, weekly charts.

- :mod:`hub.reports.data`: decided contacts with their arm and later events, as arrays.
- :mod:`hub.reports.lift`: per-contact metrics, differences with intervals, sample size needed.
- :mod:`hub.reports.reach`: who gets no action and why.
- :mod:`hub.reports.build`: :func:`write_report` writes CSV, Markdown and SVG into a folder.
"""

from hub.reports.build import ReportResult, write_report
from hub.reports.lift import LiftRow, lift_rows
from hub.reports.reach import ReachReport, reach_report

__all__ = ["LiftRow", "ReachReport", "ReportResult", "lift_rows", "reach_report", "write_report"]
