"""Offline analysis of recordings: ``analyze`` and ``batch``, and what they write (CSV and EDF+
exports, ``summary.csv``, ``report.html``)."""
