#!/bin/sh
# Older council papers need two Debian programs: Tesseract OCR for scanned PDFs
# (tesseract-ocr, tesseract-ocr-eng; Apache-2.0) and antiword for legacy Word .doc (GPL).
# Install what is missing when we may; otherwise say plainly what is missing.
PACKAGES="tesseract-ocr tesseract-ocr-eng antiword"

missing=""
command -v tesseract >/dev/null 2>&1 || missing="$missing tesseract-ocr"
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ] || missing="$missing tesseract-ocr-eng"
command -v antiword >/dev/null 2>&1 || missing="$missing antiword"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing$missing for scanned PDFs and legacy Word files (apt-get install)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null) ||
    echo "MISSING: apt-get install$missing failed" >&2
else
  echo "MISSING:$missing. Install them (apt-get install -y $PACKAGES);" >&2
  echo "scanned PDFs and .doc files cannot be read, and their tests will fail, without them." >&2
fi
exit 0
