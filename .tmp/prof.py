import cProfile, pstats, time, numpy as np
from driftwatch.stats import quality as q
from driftwatch.stats.ks_location import ecdf_steps
rng=np.random.default_rng(0)
ref=np.sort(rng.lognormal(10,0.5,200_000))
w=np.sort(rng.lognormal(10,0.5,100_000)); x,y=ecdf_steps(w); v=q.WindowValues(x,y,w.size)
def f():
    for _ in range(200):
        q.range_check("x", v, ref, q.RangeSettings())
        q.missing_check("x", 0.02, 0.02, 100000, q.ShareSettings())
        q.constant_check("x", 0.01, 250, 100000, 0.001, q.ConstantSettings(), 100)
t=time.perf_counter(); f(); print("per feature-window ms", (time.perf_counter()-t)/200*1000)
t=time.perf_counter(); q.top_share_sorted(ref); print("top_share_sorted 200k ms", (time.perf_counter()-t)*1000)
cProfile.run("f()", "/tmp/quality.prof"); pstats.Stats("/tmp/quality.prof").sort_stats("cumtime").print_stats(8)
