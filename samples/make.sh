#!/usr/bin/env bash
# Regenerates the sample archives in this folder with real tools from Debian's packages
# (umoci 0.4.7, skopeo 1.9.3). The committed archives are the ones the tests use; rerunning makes
# new ones with new digests (timestamps differ), which the tests read from digests.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A two-layer image built from scratch with umoci (no network here to pull a base image).
umoci init --layout L
umoci new --image L:app
umoci unpack --rootless --image L:app b >/dev/null
mkdir -p b/rootfs/etc && echo "berth sample base layer" > b/rootfs/etc/berth-base.txt
umoci repack --image L:app b >/dev/null
rm -rf b
umoci unpack --rootless --image L:app b >/dev/null
mkdir -p b/rootfs/app && echo "hello from berth" > b/rootfs/app/hello.txt
umoci repack --image L:app b >/dev/null
umoci config --image L:app --os linux --architecture amd64 --config.cmd /app/hello.txt >/dev/null

# skopeo dir:, Docker schema 2, tarred with entries under ./
skopeo copy --format v2s2 oci:L:app dir:v2s2 >/dev/null
tar -C v2s2 -cf "$here/skopeo-dir-v2s2.tar" .
# skopeo dir:, OCI manifest, entries at the root
skopeo copy --format oci oci:L:app dir:ocidir >/dev/null
tar -C ocidir -cf "$here/skopeo-dir-oci.tar" $(ls ocidir)
# the Docker schema 2 dir under one top folder
cp -r v2s2 app && tar -cf "$here/skopeo-dir-topfolder.tar" app
# skopeo dir version 1.0: current skopeo writes 1.1, so this is the 1.1 dir converted by hand
# (blobs renamed <hex>.tar, version file rewritten), as skopeo before 1.0 of the format wrote it.
cp -r v2s2 v10
for f in v10/*; do case "$(basename "$f")" in manifest.json|version) ;; *) mv "$f" "$f.tar" ;; esac; done
printf 'Directory Transport Version: 1.0\n' > v10/version
tar -C v10 -cf "$here/skopeo-dir-v1.0.tar" .
# docker-archive and oci-archive of the same image
skopeo copy oci:L:app docker-archive:"$here/docker-archive.tar":team/app:v1 >/dev/null
skopeo copy oci:L:app oci-archive:"$here/oci-archive.tar":v1 >/dev/null

python3 - "$here" v2s2 ocidir <<'PY'
import hashlib, json, os, sys
here, v2s2, oci = sys.argv[1:]
def describe(d):
    raw = open(os.path.join(d, 'manifest.json'), 'rb').read()
    m = json.loads(raw)
    return {
        'manifest_digest': 'sha256:' + hashlib.sha256(raw).hexdigest(),
        'manifest_media_type': m.get('mediaType', 'application/vnd.oci.image.manifest.v1+json'),
        'config_digest': m['config']['digest'],
        'layer_digests': [l['digest'] for l in m['layers']],
    }
d2, do = describe(v2s2), describe(oci)
out = [
    dict(file='skopeo-dir-v2s2.tar', format='skopeo-dir', **d2),
    dict(file='skopeo-dir-oci.tar', format='skopeo-dir', **do),
    dict(file='skopeo-dir-topfolder.tar', format='skopeo-dir', **d2),
    dict(file='skopeo-dir-v1.0.tar', format='skopeo-dir', **d2),
    dict(file='docker-archive.tar', format='docker-archive', manifest_digest=None, tags=['v1']),
    dict(file='oci-archive.tar', format='oci-layout', tags=['v1']),
]
json.dump(out, open(os.path.join(here, 'digests.json'), 'w'), indent=2)
PY
ls -l "$here"
