"""nbgrader configuration of the optlessons exercises (nbgrader 0.9, command line only).

Run the nbgrader commands from this directory (or use `python exercises/grade.py`,
which does so); `CourseDirectory.root` is this directory wherever it is copied.
"""
import os

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "optlessons"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Every assignment lives in source/<assignment>/; the gradebook is gradebook.db here.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# A cell that runs longer than this is interrupted; the rest of the notebook is
# still executed and graded (a `while True: pass` costs one cell, not the run).
c.ExecutePreprocessor.timeout = 30
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# The kernel of the environment nbgrader runs in (the repo's .venv), not whatever
# kernelspec a notebook names.
c.Execute.kernel_name = "python3"

# What nbgrader writes in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Offline: everything runs on the local file system (no exchange, no JupyterHub,
# no server extension); the autograder creates students it has not seen yet.
c.Autograde.create_student = True
c.Exchange.assignment_dir = c.CourseDirectory.root

# Feedback pages without the hidden tests' source (their output, the check's message,
# stays). nbgrader 0.9 has no switch for this (jupyter/nbgrader#917): run its own
# ClearHiddenTests preprocessor, the one generate_assignment uses, in generate_feedback too.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# Feedback pages show learners' markdown and outputs: rendered inert (courseops.sanitize).
c.HTMLExporter.preprocessors = ["courseops.sanitize.SanitizeSubmission"]
