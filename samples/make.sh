#!/usr/bin/env bash
# Regenerates the sample archives in this folder with real tools from Debian's packages
# (umoci 0.4.7, skopeo 1.9.3, buildah 1.28, podman 4.3, docker.io 20.10 with its daemon running).
# The committed archives are the ones the tests use; rerunning makes new ones with new digests
# (timestamps differ), which the tests read from digests.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
rm -f "$here"/*.tar

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
skopeo inspect --raw docker-archive:"$here/docker-archive.tar" > docker-archive.manifest
skopeo copy oci:L:app oci-archive:"$here/oci-archive.tar":v1 >/dev/null
# The same image through a real `docker save` (Debian's docker.io 20.10; needs its daemon): the
# older layout, <id>/layer.tar files, <id>/json, <config hex>.json.
docker load -q -i "$here/docker-archive.tar" >/dev/null
docker save -o "$here/docker-save.tar" team/app:v1
chmod 644 "$here/docker-save.tar"
docker rmi -f team/app:v1 >/dev/null
skopeo inspect --raw docker-archive:"$here/docker-save.tar" > docker-save.manifest

# Multi-arch: an arm64 variant (same layers, its own config), a list made with buildah, copied
# with skopeo copy --all into dir: (OCI index) and, converted, as a Docker manifest list.
skopeo copy oci:L:app oci:L:app-arm64 >/dev/null
umoci config --image L:app-arm64 --architecture arm64 --config.cmd /app/hello.txt >/dev/null
buildah manifest rm berth-sample-list >/dev/null 2>&1 || true
buildah manifest create berth-sample-list >/dev/null
buildah manifest add berth-sample-list oci:"$work/L":app >/dev/null
buildah manifest add berth-sample-list oci:"$work/L":app-arm64 >/dev/null
buildah manifest push -q --all berth-sample-list dir:list >/dev/null
buildah manifest rm berth-sample-list >/dev/null
skopeo copy -q --all dir:list dir:multi-oci
tar -C multi-oci -cf "$here/skopeo-dir-multiarch-oci.tar" .
skopeo copy -q --all --format v2s2 dir:list dir:multi-docker
tar -C multi-docker -cf "$here/skopeo-dir-multiarch-docker.tar" .
# the OCI index in an oci-archive: index.json names the index, which names the two platforms
skopeo copy -q --all dir:list oci-archive:"$here/oci-archive-multiarch.tar":v2

# Two images in one docker-archive, with podman save -m (containers-storage as a go-between).
skopeo copy -q oci:L:app containers-storage:localhost/team/app:v1
skopeo copy -q oci:L:app-arm64 containers-storage:localhost/team/tool:v2
podman save -q -m -o "$here/docker-archive-multi.tar" localhost/team/app:v1 localhost/team/tool:v2
podman rmi -f localhost/team/app:v1 localhost/team/tool:v2 >/dev/null
skopeo inspect --raw docker-archive:"$here/docker-archive-multi.tar":localhost/team/app:v1 > multi-app.manifest
skopeo inspect --raw docker-archive:"$here/docker-archive-multi.tar":localhost/team/tool:v2 > multi-tool.manifest

python3 - "$here" <<'PY'
import hashlib, json, os, sys
here = sys.argv[1]
sha = lambda b: 'sha256:' + hashlib.sha256(b).hexdigest()
def image(raw):
    m = json.loads(raw)
    return m, [m['config']['digest']] + [l['digest'] for l in m['layers']]
def from_dir(d):
    """The root manifest of a skopeo dir, every manifest and every blob, as digests."""
    raw = open(os.path.join(d, 'manifest.json'), 'rb').read()
    m = json.loads(raw)
    if 'manifests' not in m:
        _, blobs = image(raw)
        return raw, [sha(raw)], blobs
    manifests, blobs = [sha(raw)], []
    for child in m['manifests']:
        craw = open(os.path.join(d, child['digest'][7:] + '.manifest.json'), 'rb').read()
        manifests.append(sha(craw))
        blobs += [b for b in image(craw)[1] if b not in blobs]
    return raw, manifests, blobs
def media(raw):
    return json.loads(raw).get('mediaType', 'application/vnd.oci.image.manifest.v1+json')
def sample(file, fmt, d=None, raw=None, tags=()):
    if d:
        raw, manifests, blobs = from_dir(d)
    else:
        manifests, blobs = [sha(raw)], image(raw)[1]
    return dict(file=file, format=fmt, manifest_digest=manifests[0], manifest_media_type=media(raw),
                manifests=manifests, blobs=blobs, tags=list(tags))
def read(f):
    return open(f, 'rb').read()
app, tool = read('multi-app.manifest'), read('multi-tool.manifest')
out = [
    sample('skopeo-dir-v2s2.tar', 'skopeo-dir', 'v2s2'),
    sample('skopeo-dir-oci.tar', 'skopeo-dir', 'ocidir'),
    sample('skopeo-dir-topfolder.tar', 'skopeo-dir', 'v2s2'),
    sample('skopeo-dir-v1.0.tar', 'skopeo-dir', 'v2s2'),
    sample('skopeo-dir-multiarch-oci.tar', 'skopeo-dir', 'multi-oci'),
    sample('skopeo-dir-multiarch-docker.tar', 'skopeo-dir', 'multi-docker'),
    sample('docker-archive.tar', 'docker-archive', raw=read('docker-archive.manifest'), tags=['v1']),
    sample('docker-save.tar', 'docker-archive', raw=read('docker-save.manifest'), tags=['v1']),
    sample('oci-archive.tar', 'oci-layout', 'ocidir', tags=['v1']),
    sample('oci-archive-multiarch.tar', 'oci-layout', 'multi-oci', tags=['v2']),
]
multi = sample('docker-archive-multi.tar', 'docker-archive', raw=app, tags=['v1'])
multi['manifests'] = [sha(app), sha(tool)]
multi['blobs'] = image(app)[1] + [b for b in image(tool)[1] if b not in image(app)[1]]
multi['images'] = [dict(digest=sha(app), tag='v1'), dict(digest=sha(tool), tag='v2')]
out.append(multi)
json.dump(out, open(os.path.join(here, 'digests.json'), 'w'), indent=2)
PY
ls -l "$here"
