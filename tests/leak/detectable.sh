#!/usr/bin/env bash
# Writes the canaries of CANARIES_FILE that belong to the classes regular-expression detectors
# can recognise (kobo-redact's claim): e-mail addresses, phone numbers, 13-digit JMBGs and GPS
# coordinate pairs. Other lines (names, addresses, dates, lone coordinates) become blank, so
# every canary keeps its line number, which is its id in reports.
#
#   bash tests/leak/detectable.sh NAME.canaries > NAME.detectable.canaries
set -euo pipefail
sed -E '/^# |@|^(\+|0)[0-9 /-]+$|^[0-9]{13}$|^-?[0-9]+\.[0-9]+ -?[0-9]+\.[0-9]+$/!s/.*//' "$1"
