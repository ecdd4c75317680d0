"""build_backend: a PEP 517 build backend with the standard library only.

Builds the one-module wheel (and an sdist) of the chronofs binding, so that
`pip install tools/python` works with no package index: pip installs this
backend's requirements (none) into its isolated build environment.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = "chronofs.py"
SDIST_FILES = [MODULE, "pyproject.toml", "build_backend.py", "README"]


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    try:
        import tomllib

        return tomllib.loads(text)["project"]
    except ImportError:  # Python < 3.11: the few plain keys used here
        keys = dict(re.findall(r'^(\w[\w-]*) = "([^"]*)"$', text, re.M))
        return {k: keys[k] for k in ("name", "version", "description", "requires-python")}


def _metadata(p):
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % p["name"],
        "Version: %s" % p["version"],
        "Summary: %s" % p["description"],
        "Requires-Python: %s" % p["requires-python"],
        "License: MIT",
    ]
    with open(os.path.join(HERE, "README"), encoding="utf-8") as f:
        return "\n".join(lines) + "\n\n" + f.read()


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (name, digest.decode(), len(data))


def _wheel(directory, files):
    p = _project()
    dist = "%s-%s" % (p["name"], p["version"])
    info = dist + ".dist-info"
    files = dict(files)
    files[info + "/METADATA"] = _metadata(p).encode()
    files[info + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: chronofs build_backend\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()
    record = [_record_line(n, d) for n, d in files.items()]
    record.append(info + "/RECORD,,")
    files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    name = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            z.writestr(n, d)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(HERE, MODULE), "rb") as f:
        return _wheel(wheel_directory, {MODULE: f.read()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth line puts this directory on sys.path.
    return _wheel(wheel_directory, {"chronofs-editable.pth": (HERE + "\n").encode()})


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    dist = "%s-%s" % (p["name"], p["version"])
    name = dist + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for f in SDIST_FILES:
            t.add(os.path.join(HERE, f), arcname=dist + "/" + f)
        data = _metadata(p).encode()
        ti = tarfile.TarInfo(dist + "/PKG-INFO")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return name
