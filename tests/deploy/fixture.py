"""What the deployment test scripts share: the deploy_fixture program, the skip rules and a
check() that records failures. Needs QTRAIN_BUILD_ROOT (meson test sets it)."""

import os
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(os.environ["QTRAIN_BUILD_ROOT"]) / "tests" / "deploy" / "deploy_fixture"
failed = []


def skip(why):
    """Exit as skipped (meson's code 77) with the reason."""
    print(f"SKIP: {why}")
    sys.exit(77)


def need_dataset():
    if not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists():
        skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


def check(cond, what):
    if not cond:
        failed.append(what)
        print(f"FAILED: {what}")
    return cond


def make(prefix, model, args):
    """Runs deploy_fixture PREFIX --model MODEL ARGS; False (recorded) when it fails."""
    r = subprocess.run([str(FIXTURE), str(prefix), "--model", model] + args,
                       capture_output=True, text=True)
    return check(r.returncode == 0, f"{Path(prefix).name}: deploy_fixture: {r.stderr.strip()}")


def finish(ok_text):
    print(f"{len(failed)} failed" if failed else ok_text)
    sys.exit(1 if failed else 0)
