#!/usr/bin/env bash
# plugins/README.md promises that a copy of plugins/template becomes a new
# vendor that builds and passes 'plugin check' without touching core/. Do
# exactly its steps on a copy of the source tree.
#   from_template.sh SOURCE_DIR C_COMPILER [SANITIZE]
set -euo pipefail
src=$1 cc=$2 sanitize=${3:-OFF}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
# the sources as they are (without build trees)
(cd "$src" && tar --exclude='./build*' --exclude='./.git' -cf - .) | (cd "$work/src" && tar -xf -)
cd "$work/src"
before=$(cd core && find . -type f -exec sha256sum {} + | sort)

# --- the steps of plugins/README.md, "Adding a vendor" ---
cp -r plugins/template vendors/acme
cd vendors/acme
mv example.c acme.c
sed -i 's/example/acme/g; s/Example MTD (template)/Acme Mobile Defense/' \
    CMakeLists.txt acme.c fixtures/*
cd ../..
cmake -S . -B build -DCMAKE_C_COMPILER="$cc" -DMTD_BUILD_TESTS=OFF -DMTD_SANITIZE="$sanitize" >/dev/null
cmake --build build -j2 --target mtdgate_cli vendor_acme >/dev/null
build/bin/mtdgate plugin check build/lib/mtdgate/plugins/acme.so
# --- end of the steps ---

build/bin/mtdgate --db "$work/m.db" plugin list | grep -q '^acme ' ||
  { echo "acme is not in 'plugin list'"; build/bin/mtdgate --db "$work/m.db" plugin list; exit 1; }
after=$(cd core && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || { echo "core/ changed"; exit 1; }
echo "a new vendor from the template builds, lists and passes plugin check"
