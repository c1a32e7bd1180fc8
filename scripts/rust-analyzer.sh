#!/usr/bin/env bash
# Writes rust-project.json for editors, from the kernel tree KDIR (Kbuild's
# rust-analyzer target), without the copies of the module's sources that
# scripts/prepare.sh keeps in build/ (Kbuild finds every crate under M=),
# and with the `nltest_kernel` cfg that rust/Kbuild sets for a 6.12 tree.
#
# usage: scripts/rust-analyzer.sh KDIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: scripts/rust-analyzer.sh KDIR}

"$top/scripts/kernel-make.sh" "$kdir" M="$top" rust-analyzer
release=$(cat "$kdir/include/config/kernel.release")
python3 - "$top/rust-project.json" "$top" "$release" <<'PY'
import json, os, sys
path, top, release = sys.argv[1:]
build = os.path.join(top, "build") + os.sep
project = json.load(open(path))
crates = project["crates"]
copies = {i for i, crate in enumerate(crates)
          if os.path.join(top, crate["root_module"]).startswith(build)}
# Renumber the dependencies of the crates that stay.
index = {}
for i in range(len(crates)):
    if i not in copies:
        index[i] = len(index)
kept = []
for i, crate in enumerate(crates):
    if i in copies:
        continue
    for dep in crate.get("deps", []):
        if dep["crate"] in copies:
            sys.exit(f"{crate['root_module']} depends on a copy in {build}")
        dep["crate"] = index[dep["crate"]]
    if crate["root_module"].endswith("rust/nltest_main.rs") and release.startswith("6.12."):
        crate.setdefault("cfg", []).append('nltest_kernel="6.12"')
    kept.append(crate)
project["crates"] = kept
json.dump(project, open(path, "w"), indent=4, sort_keys=True)
print(f"rust-project.json: {len(kept)} crates")
PY
