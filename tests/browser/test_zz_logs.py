"""Runs last (file order): no PAN typed and no client secret handed out in
this run appears in any log line of the stack (the functions' output under
`cargo lambda watch`, moto, the stub processor, the demo merchant servers)."""

import os
import re
from pathlib import Path

from conftest import SENSITIVE


def forms(pan):
    groups = re.findall(".{1,4}", pan)
    return {pan, " ".join(groups), "-".join(groups), pan[:4] + " " + pan[4:10] + " " + pan[10:]}


def test_no_pan_or_secret_in_any_log_line():
    files = [Path(p) for p in os.environ.get("LOG_FILES", "").split(":") if p]
    assert files, "LOG_FILES names no log file"
    assert SENSITIVE["pans"] and SENSITIVE["secrets"], "the suite typed no card: run it whole"
    needles = {s: "a client secret" for s in SENSITIVE["secrets"]}
    for pan in SENSITIVE["pans"]:
        needles.update({form: "a PAN" for form in forms(pan)})
    found, lines = [], 0
    for path in files:
        assert path.is_file(), path
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            lines += 1
            for needle, what in needles.items():
                if needle in line:
                    # Name the place, never the value.
                    found.append(f"{path}:{number}: {what}")
    print(f"scanned {lines} lines in {len(files)} files for {len(SENSITIVE['pans'])} PANs and {len(SENSITIVE['secrets'])} secrets")
    assert lines > 0
    assert found == []
