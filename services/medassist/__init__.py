from pathlib import Path

from medassist.compiled import refuse_stale

refuse_stale(Path(__file__).resolve().parent)  # an edited module must not run its old compiled code
