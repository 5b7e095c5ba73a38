import sys, time
sys.path.insert(0, "tests")
from pathlib import Path
import tempfile
from _demo import DEMO_END, SMALL_DEMO
from driftwatch.demo import write_demo_project, DemoSpec
from driftwatch.config.loading import load_settings
from driftwatch.storage.database import Database
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.quality import check_quality
from driftwatch.pipeline.reference import ensure_reference
spec = DemoSpec(days=8, rows_per_day=20_000, reference_rows=100_000, drift_day=3, missing_day=5, end=DEMO_END)
d = Path(tempfile.mkdtemp())
s = load_settings(write_demo_project(d / "demo", spec))
with Database(s.storage, s.database) as db:
    mon = s.monitor("credit-default")
    t = time.perf_counter(); summ = run_cycle(db, mon, now=DEMO_END); total = time.perf_counter() - t
    ref = ensure_reference(db, mon)
    best = []
    for _ in range(3):
        t = time.process_time()
        check_quality(db, mon, ref.profile, summ.windows, summ.ingest, summ.run_id)
        best.append(time.process_time() - t)
    n = len(summ.windows); f = len(summ.windows[0].overall.features)
    import cProfile, pstats
    cProfile.runctx("check_quality(db, mon, ref.profile, summ.windows, summ.ingest, summ.run_id)", globals(), locals(), "/tmp/q2.prof")
    pstats.Stats("/tmp/q2.prof").sort_stats("tottime").print_stats(8)
    print(f"cycle {total:.1f}s, windows {n}, features {f}; quality stage min {min(best):.3f}s = {1000*min(best)/n:.1f} ms/window, {1000*min(best)/n/f:.2f} ms per feature-window")
