"""The strategy study and tunelab's overhead, measured (scripts/benchmark.py runs them; benchmarks.compare reads them).

    task.py           the study's task: space, grid sub-space, epoch budget, each entry's sized options
    long.py           the long study's task (54-epoch trials of plain SGD) and its entries, pbt included
    tunelab_search.py an entry run by tunelab (YAML path: spec, prepare, run)
    ray_search.py     the same trials on raw Ray Tune, without tunelab's layer
    kt_search.py      an entry run by KerasTuner itself, in a process of its own
    kt_space.py       a tunelab Space declared to KerasTuner's hp
    local_ray.py      a fresh local Ray per measured run
    memory.py         peak resident memory of worker processes, sampled in the background
    record.py         what one measured search leaves: a runs row and its per-epoch history
    study.py          every entry x every seed, frames written after each run
    report.py         the study's files: CSVs, study.md, best-so-far plots
    overhead.py       trivial trials through tunelab vs raw Ray Tune, and the overhead report
    worker_memory.py  a reused worker's memory over many Keras trials, and the leak behind its growth
    measured_trainable.py  tunelab's trainable with the worker's memory logged around each trial
    machine.py        where it ran: CPU, cores, versions, date, load average
"""
