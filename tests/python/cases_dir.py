"""The command line the checkers share: one argument, DIR, holding cases.json."""
import json
import os


def read_cases(argv, doc):
    """(DIR, DIR/cases.json parsed), or None after printing doc's usage line if argv is not
    [script, DIR]."""
    if len(argv) != 2:
        print(doc.splitlines()[2])
        return None
    with open(os.path.join(argv[1], "cases.json")) as f:
        return argv[1], json.load(f)
