import sys, time
sys.path.insert(0, "tests")
from pathlib import Path
import tempfile
from _demo import DEMO_END, SMALL_DEMO
from driftwatch.demo import write_demo_project
from driftwatch.config.loading import load_settings
from driftwatch.storage.database import Database
from driftwatch.pipeline.cycle import run_cycle
d = Path(tempfile.mkdtemp())
cfg = write_demo_project(d / "demo", SMALL_DEMO)
s = load_settings(cfg)
with Database(s.storage, s.database) as db:
    t=time.perf_counter()
    summ = run_cycle(db, s.monitor("credit-default"), now=DEMO_END)
    print("cycle s", time.perf_counter()-t)
    qs = summ.quality
    print(qs.checked, qs.warned, qs.failed)
    for (v, st), res in sorted(qs.windows.items()):
        for r in res:
            if r.status in ("warn","fail"):
                print(st.date(), r.check, r.feature, r.status, r.reason)
    for r in qs.cycle:
        print("cycle", r.check, r.feature, r.status, r.reason)
