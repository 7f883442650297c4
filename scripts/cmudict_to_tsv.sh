#!/usr/bin/env bash
# Converts the CMU Pronouncing Dictionary ("WORD  PH1 PH2 ..." lines, alternates written
# "WORD(1)", "WORD(2)") into the TSV the g2p fine-tuning config reads:
#
#   word<TAB>phonemes<TAB>group<TAB>phonemes_no_stress
#   abbe<TAB>AE1 B IY0<TAB>abbe<TAB>AE B IY
#   abbe<TAB>AE0 B EY1<TAB>abbe<TAB>AE B EY
#
# one line per pronunciation, the word lowercased and stripped of its "(N)" alternate
# marker; group is the word, so a split keeps all pronunciations of a word on one side.
# phonemes_no_stress drops the vowels' stress digits (0, 1, 2), leaving the 39 ARPAbet
# phonemes: the form the published CMUdict G2P results are measured on. Alternates that
# differ only in stress keep their own rows and so repeat their stress-free form (314 rows of
# cmudict 0.7b).
# Dropped, and counted on stderr: comment lines (";;;" or "#"), blank lines, words holding
# anything but letters and apostrophes (abbreviations with periods, hyphenated compounds,
# digits, punctuation names such as "!EXCLAMATION-POINT"), lines without phonemes or with a
# phoneme that is not ARPAbet-shaped (letters plus an optional stress digit), and exact
# duplicate (word, pronunciation) pairs. A trailing "# comment" on an entry is removed.
#
# Usage: scripts/cmudict_to_tsv.sh INPUT OUTPUT
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: scripts/cmudict_to_tsv.sh INPUT OUTPUT" >&2
  exit 2
fi
input="$1"
output="$2"
[ -f "$input" ] || { echo "cmudict_to_tsv.sh: input '$input' does not exist" >&2; exit 1; }

# Written beside the output and renamed, so an interrupted run leaves no partial TSV.
tmp="$output.partial"
trap 'rm -f "$tmp"' EXIT
LC_ALL=C awk -v source="$input" '
BEGIN { OFS = "\t"; print "word", "phonemes", "group", "phonemes_no_stress" }
{ sub(/\r$/, "") }
/^[ \t]*$/ { blank++; next }
/^;;;/ || /^#/ { comments++; next }
{
  sub(/[ \t]*#.*$/, "")
  word = $1
  sub(/\([0-9]+\)$/, "", word)
  if (word !~ /^[A-Za-z'\'']+$/ || word !~ /[A-Za-z]/) { non_letter++; next }
  if (NF < 2) { no_phonemes++; next }
  phonemes = $2
  bad = ($2 !~ /^[A-Z]+[0-2]?$/)
  for (i = 3; i <= NF; i++) {
    phonemes = phonemes " " $i
    if ($i !~ /^[A-Z]+[0-2]?$/) bad = 1
  }
  if (bad) { bad_phoneme++; next }
  word = tolower(word)
  if ((word SUBSEP phonemes) in seen) { duplicate++; next }
  seen[word, phonemes] = 1
  if (!(word in words)) { words[word] = 1; word_count++ }
  no_stress = phonemes
  gsub(/[0-2]/, "", no_stress)
  print word, phonemes, word, no_stress
  kept++
}
END {
  printf "cmudict_to_tsv.sh: %s: kept %d pronunciations of %d words; dropped %d non-letter words, " \
         "%d without phonemes, %d with a malformed phoneme, %d duplicates, %d comment and %d blank lines\n",
         source, kept, word_count, non_letter, no_phonemes, bad_phoneme, duplicate, comments, blank > "/dev/stderr"
  if (kept == 0) { print "cmudict_to_tsv.sh: no entries in " source > "/dev/stderr"; exit 1 }
}' "$input" > "$tmp"
mv "$tmp" "$output"
