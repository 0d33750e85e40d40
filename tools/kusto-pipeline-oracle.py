"""Converts Sigma process_creation rules (and Windows rules of no category) with one of pySigma-backend-kusto's pipelines.

Writes one JSON object per rule to stdout: the rule file (as given), its id, and either the KQL
query pySigma makes of it (`kql`) or why it refuses (`error`). firedrill's tests compare its own
pipelines of the same names with these conversions (fixtures/sigma/kusto-pipelines/README.md).

    python3 -m venv /tmp/psv && /tmp/psv/bin/pip install pysigma==1.5.1 pysigma-backend-kusto==1.0.1
    /tmp/psv/bin/python tools/kusto-pipeline-oracle.py microsoft_xdr RULE_OR_DIRECTORY... > out.jsonl
    /tmp/psv/bin/python tools/kusto-pipeline-oracle.py sentinel_asim RULE_OR_DIRECTORY... > out.jsonl
"""

import json
import pathlib
import sys
import warnings

from sigma.backends.kusto import KustoBackend
from sigma.collection import SigmaCollection
from sigma.pipelines.microsoftxdr import microsoft_xdr_pipeline
from sigma.pipelines.sentinelasim import sentinel_asim_pipeline

warnings.filterwarnings("ignore")

PIPELINES = {"microsoft_xdr": microsoft_xdr_pipeline, "sentinel_asim": sentinel_asim_pipeline}


def rule_files(argument):
    path = pathlib.Path(argument)
    return sorted(path.rglob("*.yml")) if path.is_dir() else [path]


pipeline = PIPELINES[sys.argv[1]]
for argument in sys.argv[2:]:
    for file in rule_files(argument):
        for rule in SigmaCollection.from_yaml(file.read_text()).rules:
            # The rules firedrill applies to Defender and ASIM process rows: Windows
            # process_creation, and Windows rules of no category or service (which apply to
            # every Windows event; the backend finds no table for them).
            source = rule.logsource
            if (source.product, source.service) != ("windows", None) or source.category not in (
                "process_creation",
                None,
            ):
                continue
            entry = {"rule": str(file), "id": str(rule.id)}
            try:
                entry["kql"] = KustoBackend(processing_pipeline=pipeline()).convert_rule(rule)[0]
            except Exception as error:  # pySigma reports refusals as exceptions
                entry["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            print(json.dumps(entry))
