"""nbgrader settings of the workshop hub, for every user of the course environment.

`make hub-install` copies this file into the environment (VENV/etc/jupyter/); the
hub passes the values to each server as environment variables.
"""
import os

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.Exchange.root = os.environ.get("OPTLESSONS_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("OPTLESSONS_COURSE_ID", "optlessons")
# Learners' folders are trusted by no step (courseops.exchange): collect copies only the regular
# files of the student the folder names, within caps, and rewrites each notebook inert
# (courseops.sanitize); a submission stays private to its learner and the instructors; one odd
# folder stops no one else's collection or feedback.
c.ExchangeFactory.collect = "courseops.exchange.SafeCollect"
c.ExchangeFactory.submit = "courseops.exchange.PrivateSubmit"
c.ExchangeFactory.release_feedback = "courseops.exchange.SafeReleaseFeedback"
# After a fetch, the course's links to exercises/release/<assignment>/ lead to the fetched copy.
c.ExchangeFactory.fetch_assignment = "courseops.exchange.LinkedFetch"
# The formgrader offers Release before Generate: releasing an assignment not generated, or
# generated before its source last changed, is refused with a sentence saying to Generate.
c.ExchangeFactory.release_assignment = "courseops.exchange.CheckedRelease"
c.SafeCollect.max_bytes = int(os.environ.get("OPTLESSONS_SUBMISSION_BYTES", 50 * 2**20))
c.SafeCollect.max_files = int(os.environ.get("OPTLESSONS_SUBMISSION_FILES", 500))
# nbgrader submit itself refuses a folder over this (kB), before it is copied into the exchange.
c.CourseDirectory.max_dir_size = c.SafeCollect.max_bytes // 1000
# Whatever the formgrader and the feedback pages render of a learner's notebook is made inert
# first (no script, event handlers, frames, forms: courseops.sanitize).
c.HTMLExporter.preprocessors = ["courseops.sanitize.SanitizeSubmission"]
# An instructor's course directory (source/, release/, gradebook.db): ~/course.
if os.environ.get("OPTLESSONS_ROLE") == "instructor":
    c.CourseDirectory.root = os.path.expanduser("~/course")
    # nbgrader makes autograded notebooks read-only (0444); the grading sandbox
    # (courseops.grading) writes the student's own cell sources back into them
    # afterwards, which only root could do through 0444. Keep them owner-writable.
    c.Autograde.permissions = 644
    # The formgrader's Autograde button would run the students' code unsandboxed, as the
    # instructor: it refuses; exercises/grade.py (in a terminal) autogrades in the sandbox.
    c.Autograde.exporter_class = "courseops.grading.formgrader.SandboxOnlyExporter"
