"""The trainer: a trainee manages a virtual AIH patient in the browser (``carechart train``).

:mod:`.cases` (the case library), :mod:`.sessions` (a trainee's course, decisions classed
against the pathway, saved and resumed), :mod:`.debrief` (score, deviations, the same
patient under the guideline, class report), :mod:`.plot` (the lab timeline as SVG),
:mod:`.app` (the web app; needs the ``train`` extra) and :mod:`.command` (the CLI).
"""
