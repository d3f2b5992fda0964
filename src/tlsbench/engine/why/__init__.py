""""Why?": targeted variants of one connection, each run for real, and the sentence they conclude.

    diagnosis = diagnose(spec, result, budget=10.0, stage_timeout=3.0, on_event=callback, cancel=token)

From the first run's failure and its evidence (variants.py: one rule per variant), the diagnosis
picks changes worth trying — SNI, versions, ALPN, ciphers, trust, the proxy route, the peer's first
words, the issuer named by the certificate — and runs each as a complete run of its own, several
at once, within one time budget (run.py). Two runs together show what one cannot: a different
leaf through the proxy than directly is `tls-intercepted` (findings.py). verdict.py words the
conclusion. No Textual here; the CLI and the workbench render the same Diagnosis.
"""

from tlsbench.engine.why.model import Diagnosis, Variant, VariantOutcome, probe_line
from tlsbench.engine.why.run import (DEFAULT_BUDGET, DEFAULT_STAGE_TIMEOUT, MAX_BUDGET, DiagnosisFinished,
                                          VariantFinished, VariantsChosen, VariantStarted, diagnose)

__all__ = ["DEFAULT_BUDGET", "DEFAULT_STAGE_TIMEOUT", "MAX_BUDGET", "Diagnosis", "DiagnosisFinished", "Variant",
           "VariantFinished", "VariantOutcome", "VariantStarted", "VariantsChosen", "diagnose", "probe_line"]
