#!/bin/sh
# Installs the Debian packages the tests need, only those that are missing:
# Chromium (browser tests; never `playwright install`), Java (Nu Html Checker),
# Node.js and npm (axe-core, vnu-jar, Lighthouse), zbar-tools (zbarimg reads the wall label's QR code),
# epubcheck and poppler-utils (the book: its EPUB checked, its PDF's text read), g++ (the sampling
# step's kernels, engine/step_kernels.cc, compiled once on the machine that runs them). sudo is used only when not root.
# A Node.js from NodeSource bundles npm, and Debian's npm conflicts with it, so
# npm is asked for only when no npm is on the PATH.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v zbarimg >/dev/null 2>&1 || missing="$missing zbar-tools"
command -v epubcheck >/dev/null 2>&1 || missing="$missing epubcheck"
command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"

if [ -z "$missing" ]; then
  echo "system packages: all present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "system packages: missing$missing; run this as root, or install sudo" >&2
  exit 1
fi

echo "system packages: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is intended
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
