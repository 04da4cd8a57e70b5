"""The course's operations code, outside the learner's package: grading and the workshop server.

``courseops.grading`` grades untrusted submissions in a sandbox, ``courseops.exchange`` is the
nbgrader exchange the workshop hub uses, ``courseops.labserver`` tunes the learner's JupyterLab.
Learners never import it; it imports ``optlessons``, never the other way round.
"""
