#!/usr/bin/env python3
"""Provide ansible-test's pip bootstrap script without the non-registry download.

``ansible-test ... --venv`` bootstraps pip into each virtual environment with a script it downloads from a
host outside the package registries, which is unreachable here.  ansible-test first looks for the script in
``~/.ansible/test/cache/get_pip_<X_Y>.py``.  This writes a stand-in there that installs pip from the pip
wheel fetched from PyPI (the registry), so only PyPI is used afterwards.

Run it with the Python of the venv that holds ansible-core: it reads the pinned pip version from ansible-test.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

STANDIN = '''#!/usr/bin/env python
# Stand-in for get-pip.py written by tests/tools/ansible_test_pip_bootstrap.py: installs pip from a local wheel.
import sys
WHEEL = {wheel!r}
sys.path.insert(0, WHEEL)
from pip._internal.cli.main import main  # noqa: E402
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall", WHEEL] + args))
'''


def pinned_pip_version() -> str:
    from ansible_test._internal.python_requirements import get_venv_packages

    class _Py:  # get_venv_packages only reads .version
        version = "%d.%d" % sys.version_info[:2]

    return get_venv_packages(_Py())["pip"]


def main() -> int:
    version = pinned_pip_version()
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    target = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
    wheels = glob.glob(os.path.join(cache, "pip-%s-*.whl" % version))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "-d", cache, "pip==%s" % version], check=True, stdout=subprocess.DEVNULL)
        wheels = glob.glob(os.path.join(cache, "pip-%s-*.whl" % version))
    content = STANDIN.format(wheel=wheels[0])
    if not os.path.exists(target) or open(target).read() != content:
        tmp = target + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(content)
        os.replace(tmp, target)
    print("ansible-test pip %s bootstrap: %s" % (version, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
