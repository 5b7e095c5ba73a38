import sys
sys.path.insert(0,"tests")
import test_quality_pipeline as t
from pathlib import Path
import tempfile
from driftwatch.config.loading import load_settings
from driftwatch.demo import write_demo_project
from driftwatch.storage.database import Database
from driftwatch.pipeline.cycle import run_cycle
s = load_settings(write_demo_project(Path(tempfile.mkdtemp())/"d", t.SPEC))
with Database(s.storage, s.database) as db:
    run_cycle(db, s.monitor(t.MONITOR), now=t.END)
    for r in db.cursor().execute("select window_start, feature, status, value, reason from quality_results where check_name='range' and status<>'ok'").fetchall(): print(r)
