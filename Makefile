# The README's two commands are `make lab` and `make test`.
# Everything installs into .venv from this repo's own pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")
# Two stamps on one .venv: the course alone (make lab), and the course with the
# tools that test, grade and build it (everything else).
LAB_STAMP := $(VENV)/.installed-lab-$(HASH)
STAMP     := $(VENV)/.installed-all-$(HASH)

# The course's models are small: one BLAS thread is faster on them than many, and
# keeps every printed number the same whatever the machine's core count.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: lab test test-fast lint setup setup-check notebooks bench clean site bundle

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-lab-*
	touch $(LAB_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP) $(LAB_STAMP)

setup: $(STAMP)

# JupyterLab serves the whole course (notebooks/ and exercises/) and opens 00_welcome,
# configured for a learner by jupyter-config/ (no news prompt, no grader's menus).
# As root (a container, a VM) it needs --allow-root; LAB_ARGS passes anything else.
LAB_ARGS ?=
lab: $(LAB_STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-config $(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) \
		notebooks/00_welcome.ipynb

# axe-core for the site's accessibility test, from the npm registry (skipped without npm).
AXE := tests/a11y/node_modules/.installed
$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/a11y --no-audit --no-fund --silent \
		&& touch $(AXE); else echo "npm not found: the site's accessibility test will be skipped"; fi

# pytest-xdist runs the fast tier on TEST_JOBS workers (auto: one per core), side by side; the tests
# that share a wide fixture stay together on one worker, in order (conftest.py marks them with
# xdist_group). TEST_JOBS=0 runs them in this process. `make test` stays in one process for now: the
# notebooks under nbval failed on two workers in the one check made (issue 23; cause not yet found).
TEST_JOBS ?= auto
PARALLEL  := $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadgroup)

test: $(STAMP) $(AXE)
	$(BIN)/python -m pytest

# Everything but the tests marked slow (notebook re-runs, nbgrader, hub, the site and bundle builds,
# browser): tests/ only, so the notebooks are not even collected.
# Property tests draw 10 examples instead of 100 (tests/conftest.py).
test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest tests -m "not slow" $(PARALLEL)

# Who may import whom: the contracts in .importlinter (tests/test_layering.py runs them too).
lint: $(STAMP)
	$(BIN)/lint-imports --no-logo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info

# Re-execute every notebook in place (deterministic: twice leaves git clean).
notebooks: $(STAMP)
	$(BIN)/python -m scripts.run_notebooks

# Before a workshop: check this machine is ready, with a plain-words fix for each failure.
setup-check: $(LAB_STAMP)
	$(BIN)/python -m optlessons.setup_check

# The course web site, static HTML in build/site/ (open build/site/index.html): built from
# the executed notebooks as committed, never re-executed; works offline.
site: $(STAMP)
	$(BIN)/python -m scripts.build_site --out build/site

# Student copies for a workshop: build/optlessons-workshop.zip (notebooks without outputs,
# exercises/release, the package). KEEP_OUTPUTS=1 keeps the notebooks' outputs.
bundle: $(STAMP)
	$(BIN)/python -m scripts.make_bundle $(if $(KEEP_OUTPUTS),--keep-outputs)

# ---- exercises (nbgrader) -------------------------------------------------
# Student copies and grading; see exercises/grade.py --help. Submissions go in
# exercises/submitted/<student>/<assignment>/<notebook>.ipynb. Grading runs each student's
# notebook in the bubblewrap sandbox (apt-get install bubblewrap); GRADE_ARGS passes more
# options, e.g. GRADE_ARGS="--roster class.txt" (who did not submit is `missing`).
ASSIGNMENT ?= ps1_losses_gradients
GRADE_ARGS ?=
.PHONY: release autograde feedback grades report

release: $(STAMP)
	$(BIN)/python exercises/grade.py release

autograde: $(STAMP)
	$(BIN)/python exercises/grade.py autograde $(ASSIGNMENT) $(GRADE_ARGS)

feedback: $(STAMP)
	$(BIN)/python exercises/grade.py feedback $(ASSIGNMENT)

grades: $(STAMP)
	$(BIN)/python exercises/grade.py export --to exercises/grades.csv

# exercises/reports/$(ASSIGNMENT).html and $(ASSIGNMENT)-mistakes.csv: what the class got wrong.
report: $(STAMP)
	$(BIN)/python exercises/grade.py report $(ASSIGNMENT)

# ---- the workshop hub (hub/, run as root; see docs/instructors.md) ---------
# `make hub` installs what it needs and starts JupyterHub on HUB_IP:HUB_PORT;
# `make hub-users ROSTER=roster.csv` creates the learners (id,role).
HUB_STAMP := $(VENV)/.installed-hub-$(HASH)
HUB_IP   ?= 127.0.0.1
HUB_PORT ?= 8000
HUB      := OPTLESSONS_IP=$(HUB_IP) OPTLESSONS_PORT=$(HUB_PORT) $(BIN)/python hub/workshop.py
.PHONY: hub hub-install hub-stop hub-status hub-users

$(HUB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[hub]'
	touch $(HUB_STAMP)

hub/node_modules/.package-lock.json: hub/package.json hub/package-lock.json
	cd hub && npm ci --no-audit --no-fund

hub-install: $(HUB_STAMP) hub/node_modules/.package-lock.json
	$(HUB) install

hub: hub-install
	$(HUB) start

hub-stop: $(HUB_STAMP)
	$(HUB) stop

hub-status: $(HUB_STAMP)
	$(HUB) status

hub-users: $(HUB_STAMP)
	@test -n "$(ROSTER)" || { echo "usage: make hub-users ROSTER=roster.csv (a CSV with the header id,role)"; exit 2; }
	$(HUB) users $(ROSTER)
